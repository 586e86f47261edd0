#!/usr/bin/env python3
"""The plans scenario's subscriptions as one row per subscription, as known at T, three
times: in churnrisk's columns (user_id, start_date, end_date: subs_one_T.csv); with the
plan's billing interval (Customer ID, Interval, Status, Start Date (UTC), Ended At (UTC):
subs_interval_T.csv); and as Stripe's Dashboard exports them, adding Canceled At (UTC)
(subs_stripe_T.csv) — what a Stripe export has and a start/end table lacks.

    plans_export.py SEED_DIR T    # reads subs_one.csv, truth_users.csv (the plan) and
                                  # truth_endings.csv (how each subscription ended)

An end or a cancellation after T is not known at T: blank (status active). Canceled At, as
Stripe's API reference defines canceled_at: a customer who set cancel_at_period_end asked on
the day plansim decided it (truth_endings' `extra` for a voluntary ending); one who left at
the period's end without asking earlier, and a subscription canceled after failed payments,
were canceled when they ended.
"""
import sys

import pandas as pd

d, T = sys.argv[1], pd.Timestamp(sys.argv[2])
one = pd.read_csv(f"{d}/subs_one.csv", dtype=str, keep_default_na=False)
plan = pd.read_csv(f"{d}/truth_users.csv", dtype=str).set_index("user_id")["plan"]
start = pd.to_datetime(one.start_date)
end = pd.to_datetime(one.end_date.replace("", None))
known = start <= T
one, start, end = one[known], start[known], end[known]
ended = end.notna() & (end <= T)
pd.DataFrame({"user_id": one.user_id, "start_date": one.start_date,
              "end_date": one.end_date.where(ended, "")}).to_csv(
    f"{d}/h28/subs_one_T.csv", index=False)
stripe = pd.DataFrame({
    "id": [f"sub_{i:06d}" for i in range(len(one))],
    "Customer ID": one.user_id.values,
    "Interval": plan.reindex(one.user_id).values,
    "Status": ["canceled" if e else "active" for e in ended],
    "Start Date (UTC)": start.dt.strftime("%Y-%m-%d %H:%M").values,
    "Ended At (UTC)": [e.strftime("%Y-%m-%d %H:%M") if k else "" for e, k in zip(end, ended)],
})
stripe.to_csv(f"{d}/h28/subs_interval_T.csv", index=False)
endings = pd.read_csv(f"{d}/truth_endings.csv", dtype=str, keep_default_na=False)
last = endings[endings.kind != "recovered"].drop_duplicates("user_id", keep="last")
asked_early = last[(last.kind == "voluntary") & (last.extra != "")].set_index("user_id").extra
asked = pd.to_datetime(asked_early.reindex(one.user_id)).values
asked = pd.Series(asked, index=one.index).fillna(end)  # the others: when they ended
stripe["Canceled At (UTC)"] = [a.strftime("%Y-%m-%d %H:%M") if pd.notna(a) and a <= T else ""
                               for a in asked]
stripe.to_csv(f"{d}/h28/subs_stripe_T.csv", index=False)
pending = (stripe["Canceled At (UTC)"] != "") & (stripe["Ended At (UTC)"] == "")
print(f"{d}: {len(one)} subscriptions started by T, {int(ended.sum())} ended by T, "
      f"{int(pending.sum())} running at T with a cancellation asked for")
