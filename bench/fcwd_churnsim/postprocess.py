"""Convert the raw rows captured from ChurnSim's COPY/INSERT statements into the requested CSV layout.
usage: postprocess.py <out_dir> <seed> <sim_end_date YYYY-MM-DD> <command string>
"""
import fcntl
import os
import sys

# run one post-processing at a time (each needs several GB of RAM for ~20M events)
_lock = open(os.path.join(sys.argv[1], '..', '.postprocess.lock'), 'w')
fcntl.flock(_lock, fcntl.LOCK_EX)

import numpy as np
import pandas as pd

out, seed, sim_end, command = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
raw = os.path.join(out, 'raw')

etype = pd.read_csv(os.path.join(raw, 'event_type.csv'), header=None, names=['id', 'name'])
etype_map = dict(zip(etype['id'], etype['name']))

# ---- subscriptions: account_id, plan, start, end, mrr, quantity, units, bill_period, discount
subs = pd.read_csv(os.path.join(raw, 'subscription.csv'), header=None,
                   names=['account_id', 'plan', 'start_date', 'end_date', 'mrr', 'quantity', 'units',
                          'bill_period', 'discount'], dtype={'start_date': str, 'end_date': str})
subs_out = subs[['account_id', 'start_date', 'end_date']].rename(columns={'account_id': 'user_id'})
subs_out = subs_out.sort_values(['user_id', 'start_date'], kind='stable')
subs_out.to_csv(os.path.join(out, 'subscriptions.csv'), index=False)

# ---- users
acct = pd.read_csv(os.path.join(raw, 'account.csv'), header=None,
                   names=['account_id', 'channel', 'date_of_birth', 'country'], keep_default_na=False)
first = subs.groupby('account_id')['start_date'].min()
last_end = subs.groupby('account_id')['end_date'].max()
users = pd.DataFrame({'user_id': first.index, 'signup_at': first.values + 'T00:00:00Z'})
users.to_csv(os.path.join(out, 'users.csv'), index=False)
assert set(acct['account_id']) == set(users['user_id']), 'accounts without subscriptions?'

# ---- events: account_id, event_time, event_type_id, user_id(within account), value
ev = pd.read_csv(os.path.join(raw, 'event.csv'), header=None,
                 names=['account_id', 'event_time', 'event_type_id', 'sub_user', 'value'],
                 usecols=[0, 1, 2], dtype={'account_id': np.int64, 'event_time': str, 'event_type_id': np.int16})
ts = pd.to_datetime(ev['event_time'], format='%Y-%m-%d %H:%M:%S')
order = np.lexsort((ev['event_type_id'].to_numpy(), ev['account_id'].to_numpy(), ts.to_numpy()))
ev = ev.iloc[order]
ts = ts.iloc[order]
events_out = pd.DataFrame({'user_id': ev['account_id'].to_numpy(),
                           'timestamp': ev['event_time'].str.replace(' ', 'T', regex=False).to_numpy() + 'Z',
                           'event': ev['event_type_id'].map(etype_map).to_numpy()})
events_out.to_csv(os.path.join(out, 'events.csv'), index=False, chunksize=1_000_000)
ev = ev[['account_id']]

# ---- checks and stats
n_acct = len(users)
churned = last_end[last_end <= sim_end]
n_churned = len(churned)
ev_last = ts.groupby(ev['account_id'].to_numpy()).max()
ev_first = ts.groupby(ev['account_id'].to_numpy()).min()
sub_last_end = pd.to_datetime(last_end)
after_end = (ev_last.dt.normalize() >= sub_last_end.reindex(ev_last.index)).sum()
before_start = (ev_first.dt.normalize() < pd.to_datetime(first).reindex(ev_first.index)).sum()
# events of churned accounts after their churn date (= end of last subscription)
ch_last = ev_last.reindex(churned.index).dropna()
churned_events_after = (ch_last.dt.normalize() >= pd.to_datetime(churned.reindex(ch_last.index))).sum()

# monthly churn: per subscription row that ended on/before sim end, was it followed by a renewal?
ends_in_sim = subs[subs['end_date'] <= sim_end]
row_churn = ends_in_sim.set_index(['account_id', 'end_date']).index.isin(
    list(zip(churned.index, churned.values))).mean()
# churn by tenure (1 = first subscription month)
subs['tenure'] = subs.groupby('account_id').cumcount() + 1
ends_in_sim = ends_in_sim.assign(tenure=subs.loc[ends_in_sim.index, 'tenure'],
                                 churn=ends_in_sim.set_index(['account_id', 'end_date']).index.isin(
                                     list(zip(churned.index, churned.values))))
by_tenure = ends_in_sim.groupby('tenure')['churn'].agg(['size', 'mean'])
# calendar-month churn: churns during month / accounts active at the start of that month
s = pd.to_datetime(subs['start_date']); e = pd.to_datetime(subs['end_date'])
months = pd.date_range(s.min().normalize().replace(day=1), pd.Timestamp(sim_end), freq='MS')
cal = []
churn_dates = pd.to_datetime(churned)
acct_start = pd.to_datetime(first)
for m0 in months:
    m1 = m0 + pd.offsets.MonthBegin(1)
    active = ((acct_start < m0) & (pd.to_datetime(last_end) >= m0)).sum()
    ch = ((churn_dates >= m0) & (churn_dates < m1) & (churn_dates <= pd.Timestamp(sim_end))).sum()
    if active > 0 and m1 <= pd.Timestamp(sim_end) + pd.Timedelta(days=1):
        cal.append((m0.strftime('%Y-%m'), int(active), int(ch), ch / active))

counts = events_out['event'].value_counts()
with open(os.path.join(out, 'sim.log'), 'w') as fh:
    fh.write(f'command: {command}\nseed: {seed}\n')
    fh.write('simulator: carl24k/fight-churn fightchurn/churnsim/churnsim.py (HEAD 1310fc7), model socialnet7\n')
    fh.write('database replaced by run_sim.py stand-ins (see bench/fcwd_churnsim/run_sim.py)\n\n')
    fh.write(f'accounts: {n_acct}\nevents: {len(events_out)}\nsubscription rows: {len(subs_out)}\n')
    fh.write(f'accounts churned (last subscription ends <= sim end_date {sim_end}): {n_churned} '
             f'({n_churned / n_acct:.3f})\n')
    fh.write(f'accounts still active at end: {n_acct - n_churned}\n')
    fh.write(f'event timestamp range: {events_out["timestamp"].iloc[0]} .. {events_out["timestamp"].iloc[-1]}\n')
    fh.write(f'subscription date range: {subs["start_date"].min()} .. {subs["end_date"].max()}\n')
    fh.write(f'signup range: {users["signup_at"].min()} .. {users["signup_at"].max()}\n')
    fh.write(f'event counts by type:\n{counts.to_string()}\n')
    fh.write(f'events per account-month (subscription row): {len(events_out) / len(subs_out):.1f}\n')
    fh.write(f'per-subscription-row (monthly renewal) churn rate, rows ending <= {sim_end}: {row_churn:.4f}\n')
    fh.write('churn rate by tenure month (rows ending <= sim end):\n')
    for t, r in by_tenure.iterrows():
        fh.write(f'  month {t}: n={int(r["size"])} churn={r["mean"]:.4f}\n')
    fh.write('calendar-month churn (churned in month / active at month start):\n')
    for c in cal:
        fh.write(f'  {c[0]} active={c[1]} churned={c[2]} rate={c[3]:.4f}\n')
    fh.write(f'checks: accounts with events on/after their last subscription end: {after_end}; '
             f'churned accounts with events after churn: {churned_events_after}; '
             f'accounts with events before signup: {before_start}\n')
print(open(os.path.join(out, 'sim.log')).read())
