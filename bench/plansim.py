#!/usr/bin/env python3
"""plansim: a seeded simulator of a B2B SaaS product billed through a Stripe-like system.

Written by a helper from Stripe's public subscription documentation, without reading
churnrisk's code (2026-12-07); `bench/compare_quality.sh` runs it as the `plans` scenario
(subscriptions.csv = the billing-period layout; features.toml written beside it).

Billing model (after Stripe's subscription docs):
- A subscription starts at signup; its billing_cycle_anchor is the start date. Periods are
  `interval` = month (70%) or year (30%) long, anchored on the anchor's day of month (a
  31st anchor gives Feb 28/29, then Mar 31, like Stripe's month-end handling).
- Voluntary churn: a customer who decides to leave sets cancel_at_period_end; the
  subscription ends at the current period's end (no refund, access until then).
- Involuntary churn: at a renewal the payment fails with prob. P_FAIL; the invoice is
  retried on the merchant's dunning schedule (days 1, 3, 5, 8, 12, 16, 21 after the renewal
  date). Half of the failures are paid on one of those retries: the next period then starts
  on that day (anchor reset to it) -> a late start a few days after the previous end. The
  other half exhaust the retries and the subscription is canceled on day 21; access
  (status past_due) continues until that day.
Layouts:
- subs_periods.csv: one row per PAID billing period (start, scheduled end). The unpaid
  period of a failed-and-canceled renewal has no row.
- subs_one.csv: one row per subscription: first period start, ended_at (voluntary: the
  period end; involuntary: the cancellation day = renewal + 21 days), empty if still
  running after SIM_END.
"""
from __future__ import annotations

import argparse
import calendar
import datetime as dt
import os
import sys

import numpy as np
import pandas as pd

EPOCH = dt.date(2024, 9, 1)
SIGNUP_END = dt.date(2025, 11, 1)
SIM_END = dt.date(2026, 1, 31)  # last simulated day (inclusive)
NDAYS = (SIM_END - EPOCH).days + 1
EVENTS = ["login", "view_dashboard", "create_report", "share_report", "invite_teammate",
          "export", "error_shown"]
MIX = np.array([0.34, 0.30, 0.11, 0.05, 0.012, 0.07, 0.04])
CORE = np.array([0, 1, 1, 1, 1, 1, 0], bool)
RETRY_DAYS = np.array([1, 3, 5, 8, 12, 16, 21])
RECOVER_P = np.array([0.30, 0.25, 0.15, 0.12, 0.08, 0.06, 0.04])
P_FAIL = 0.01
FEATURES = """# Feature definitions for bench/plansim.py's product.
[events]
login = ["login"]
value = ["create_report", "share_report", "export"]
core = ["view_dashboard", "create_report", "share_report", "invite_teammate", "export"]
friction = ["error_shown"]
"""
P_RECOVER = 0.5


def d2i(d: dt.date) -> int:
    return (d - EPOCH).days


def i2d(i: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(i))


def add_months(anchor: dt.date, k: int) -> dt.date:
    m = anchor.month - 1 + k
    y, m = anchor.year + m // 12, m % 12 + 1
    return dt.date(y, m, min(anchor.day, calendar.monthrange(y, m)[1]))


def add_years(anchor: dt.date, k: int) -> dt.date:
    y = anchor.year + k
    return dt.date(y, anchor.month, min(anchor.day, calendar.monthrange(y, anchor.month)[1]))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--users", type=int, default=12000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)

    weekday = np.array([(EPOCH + dt.timedelta(days=i)).weekday() for i in range(NDAYS)])
    wk_factor = np.where(weekday >= 5, 0.22, 1.0)
    # company-wide seasonality: dip in the last two weeks of December
    season = np.ones(NDAYS)
    for y in (2024, 2025):
        s, e = d2i(dt.date(y, 12, 20)), d2i(dt.date(y + 1, 1, 2))
        season[max(s, 0):min(e, NDAYS)] = 0.55

    n = a.users
    signup_span = (SIGNUP_END - EPOCH).days
    signup_day = np.sort(rng.integers(0, signup_span, n))
    signup_sec = rng.integers(8 * 3600, 20 * 3600, n)
    annual = rng.random(n) < 0.30
    sat = rng.normal(0, 1, n)  # latent satisfaction
    # latent log engagement (total events per weekday); annual customers are larger teams
    base = np.where(annual, np.log(2.5), np.log(1.3)) + rng.normal(0, 0.55, n) + 0.15 * sat
    decliner = rng.random(n) < 0.20
    drift = np.where(decliner, rng.uniform(-0.012, -0.003, n), rng.normal(0.0, 0.0015, n))
    step_sd = rng.uniform(0.02, 0.05, n)
    err_mult = np.exp(-0.45 * sat)

    ev_uid, ev_day, ev_type = [], [], []
    period_rows, one_rows, truth_rows = [], [], []
    stats = {"renewals": {"m": 0, "y": 0}, "vol": {"m": 0, "y": 0}, "inv_end": {"m": 0, "y": 0},
             "inv_rec": {"m": 0, "y": 0}, "cape_early": 0, "late_gt7": 0}

    for u in range(n):
        s0 = int(signup_day[u])
        L = NDAYS - s0
        z = base[u] + np.cumsum(drift[u] + step_sd[u] * rng.standard_normal(L))
        z = np.clip(z, np.log(0.05), np.log(40))
        lam = np.exp(z) * wk_factor[s0:] * season[s0:]
        mix = MIX.copy()
        mix[6] *= err_mult[u]
        mix[0] += 0.0  # logins fixed share
        rates = lam[:, None] * mix[None, :]
        # first weeks of a new account: onboarding boost for logins/dashboard
        onb = np.exp(-np.arange(L) / 10.0) * 0.6
        rates[:, :2] *= (1 + onb)[:, None]
        C = rng.poisson(rates)  # days x types
        mult = np.ones(L)
        access_end = L  # exclusive, in user-relative days
        trickle = False

        plan = "y" if annual[u] else "m"
        anchor = i2d(s0)
        k = 1
        start = anchor
        sub_start = anchor
        sub_end = None
        n_ren = 0
        while True:
            end = add_years(anchor, k) if annual[u] else add_months(anchor, k)
            period_rows.append((u, start, end))
            e_rel = d2i(end) - s0
            if d2i(end) > NDAYS - 1 + 400:
                break
            # voluntary decision, some days before the period end
            lead = int(rng.integers(7, 61)) if annual[u] else int(rng.integers(2, 21))
            dec = e_rel - lead
            if dec >= L:  # beyond the simulation: nothing observable changes
                break
            w0, w1 = max(dec - 30, 0), max(dec, 1)
            obs = max(w1 - w0, 1)
            core30 = C[w0:w1][:, CORE].sum() * 30.0 / obs
            x = np.log1p(core30)
            a0 = -2.2 if annual[u] else -3.5
            first = 0.6 if n_ren == 0 and not annual[u] else 0.0
            p_leave = sigmoid(a0 + first - 1.0 * (x - 2.9) - 0.7 * sat[u])
            leave = rng.random() < p_leave
            if leave:
                cape_early = rng.random() < 0.5  # sets cancel_at_period_end at `dec`
                wind = rng.random() < (0.85 if cape_early else 0.5)
                if wind:
                    tau = rng.uniform(5, 20)
                    dd = np.arange(L) - dec
                    f = np.where(dd >= 0, np.maximum(np.exp(-dd / tau), 0.12), 1.0)
                    if cape_early:
                        f = np.where(dd >= 0, f * 0.6, f)
                    mult = np.minimum(mult, f)
                stats["vol"][plan] += int(e_rel < L)
                stats["cape_early"] += int(cape_early and e_rel < L)
                access_end = min(e_rel, L)
                sub_end = end
                trickle = rng.random() < 0.3
                truth_rows.append((u, plan, "voluntary", end, i2d(s0 + dec) if cape_early else None))
                break
            if e_rel >= L:  # renewal after the simulation end
                break
            stats["renewals"][plan] += 1
            n_ren += 1
            if rng.random() < P_FAIL:
                if rng.random() < P_RECOVER:
                    r = int(rng.choice(RETRY_DAYS, p=RECOVER_P))
                    stats["inv_rec"][plan] += 1
                    stats["late_gt7"] += int(r > 7)
                    anchor = end + dt.timedelta(days=r)
                    start = anchor
                    k = 1
                    truth_rows.append((u, plan, "recovered", end, anchor))
                    continue
                cancel = end + dt.timedelta(days=int(RETRY_DAYS[-1]))
                stats["inv_end"][plan] += 1
                access_end = min(d2i(cancel) - s0, L)
                sub_end = cancel
                trickle = rng.random() < 0.3
                truth_rows.append((u, plan, "involuntary", end, cancel))
                break
            start = end
            k += 1
        # the voluntary count above counted renewals that happened as non-renewals: fix the
        # denominator below via vol + renewals
        if sub_end is not None and d2i(sub_end) > NDAYS - 1:
            sub_end = None
        one_rows.append((u, sub_start, sub_end))

        C = C.astype(np.int64)
        if (mult < 1).any():
            C = rng.binomial(C, np.clip(mult, 0, 1)[:, None])
        C[access_end:] = 0
        if trickle and access_end < L:
            nd = int(rng.integers(1, 6))
            C[access_end:access_end + nd, 0] = rng.poisson(0.6, min(nd, L - access_end))
        dd, tt = np.nonzero(C)
        cnt = C[dd, tt]
        ev_uid.append(np.full(cnt.sum(), u, np.int32))
        ev_day.append(np.repeat(dd + s0, cnt).astype(np.int32))
        ev_type.append(np.repeat(tt, cnt).astype(np.int8))

    uid = np.concatenate(ev_uid)
    day = np.concatenate(ev_day)
    typ = np.concatenate(ev_type)
    m = len(uid)
    # time of day: business hours around 14:00 UTC (EU + US customers), some spread
    hour = np.clip(rng.normal(14.0, 3.5, m), 0, 23.999)
    sec = (hour * 3600).astype(np.int64)
    ts = (np.datetime64(EPOCH.isoformat(), "s") + (day.astype(np.int64) * 86400 + sec)
          .astype("timedelta64[s]"))
    order = np.lexsort((uid, ts))
    ids = np.array([f"u{u:05d}" for u in range(n)])
    tstr = np.char.add(np.datetime_as_string(ts[order], unit="s"), "Z")
    ev = pd.DataFrame({"user_id": ids[uid[order]], "timestamp": tstr,
                       "event": np.array(EVENTS)[typ[order]]})
    ev.to_csv(os.path.join(a.out, "events.csv"), index=False)

    su = (np.datetime64(EPOCH.isoformat(), "s")
          + (signup_day.astype(np.int64) * 86400 + signup_sec).astype("timedelta64[s]"))
    pd.DataFrame({"user_id": ids, "signup_at": np.char.add(np.datetime_as_string(su, unit="s"), "Z")}
                 ).to_csv(os.path.join(a.out, "users.csv"), index=False)

    sim_end_excl = SIM_END + dt.timedelta(days=1)
    pr = pd.DataFrame([(ids[u], s.isoformat(), e.isoformat()) for u, s, e in period_rows
                       if s < sim_end_excl], columns=["user_id", "start_date", "end_date"])
    pr.to_csv(os.path.join(a.out, "subs_periods.csv"), index=False)
    pr.to_csv(os.path.join(a.out, "subscriptions.csv"), index=False)
    with open(os.path.join(a.out, "features.toml"), "w") as f:
        f.write(FEATURES)
    so = pd.DataFrame([(ids[u], s.isoformat(), e.isoformat() if e else "") for u, s, e in one_rows],
                      columns=["user_id", "start_date", "end_date"])
    so.to_csv(os.path.join(a.out, "subs_one.csv"), index=False)
    pd.DataFrame([(ids[u], p, kind, str(e), str(x) if x else "") for u, p, kind, e, x in truth_rows],
                 columns=["user_id", "plan", "kind", "period_end", "extra"]
                 ).to_csv(os.path.join(a.out, "truth_endings.csv"), index=False)
    pd.DataFrame({"user_id": ids, "plan": np.where(annual, "year", "month"), "sat": sat.round(3),
                  "decliner": decliner}).to_csv(os.path.join(a.out, "truth_users.csv"), index=False)

    print(f"seed {a.seed}: users {n}, events {m:,} ({m / n:.0f}/user), "
          f"monthly {np.mean(~annual):.1%}, annual {np.mean(annual):.1%}")
    for p, name in (("m", "monthly"), ("y", "annual")):
        due = stats["renewals"][p] + stats["vol"][p]  # renewal dates reached by SIM_END
        print(f"  {name}: renewal dates reached {due}, voluntary non-renewal "
              f"{stats['vol'][p] / max(due, 1):.2%}, payment failure ended "
              f"{stats['inv_end'][p] / max(due, 1):.2%}, recovered late {stats['inv_rec'][p]}")
    print(f"  cancel_at_period_end set early by {stats['cape_early']} of the voluntary leavers; "
          f"late recoveries > 7 days: {stats['late_gt7']}")
    print(f"  subs_periods rows {len(pr)}, subs_one rows {len(so)} (ended by SIM_END "
          f"{(so['end_date'] != '').sum()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
