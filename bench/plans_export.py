#!/usr/bin/env python3
"""The plans scenario's subscriptions as one row per subscription, as known at T, twice:
in churnrisk's columns (user_id, start_date, end_date) and as Stripe's Dashboard exports
them (Customer ID, Interval, Status, Start Date (UTC), Ended At (UTC)) — the same rows
with the plan's billing interval, which a Stripe export has and a start/end table lacks.

    plans_export.py SEED_DIR T    # reads subs_one.csv, truth_users.csv (the plan);
                                  # writes h28/subs_one_T.csv and h28/subs_stripe_T.csv

An end after T is not known at T: blank (status active) in both.
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
pd.DataFrame({
    "id": [f"sub_{i:06d}" for i in range(len(one))],
    "Customer ID": one.user_id.values,
    "Interval": plan.reindex(one.user_id).values,
    "Status": ["canceled" if e else "active" for e in ended],
    "Start Date (UTC)": start.dt.strftime("%Y-%m-%d %H:%M").values,
    "Ended At (UTC)": [e.strftime("%Y-%m-%d %H:%M") if k else "" for e, k in zip(end, ended)],
}).to_csv(f"{d}/h28/subs_stripe_T.csv", index=False)
print(f"{d}: {len(one)} subscriptions started by T, {int(ended.sum())} ended by T")
