#!/usr/bin/env python3
"""A log of the other shape: few users with many events each (a subscription product with
daily use), written by numpy, not by churnrisk.

`churnrisk generate` writes ~190 events per user over half a year. Real exports also come
as ~10k users with ~1,000 events each over a year; per-user work (grouping, sessions)
weighs differently there, so bench/formats.sh measures both shapes.

The process: users sign up over the first 120 days of 2020; each has a daily event rate
(log-normal, median ~4 a day), a weekly rhythm, and a silent dropout day (exponential
lifetime, mean 240 days: about 40% leave within the year); a leaving user's rate fades over
the 3 weeks before. Event names follow features/default.toml; `value` is set on
export_scheduled (an amount); no session ids (churnrisk and the peer derive them).
Timestamps are ISO-8601 without a zone (`2020-01-01T00:28:16`), as many exports write them.

Usage: bench/.venv/bin/python bench/gen_heavy.py --events 10000000 --out DIR [--seed 7]
Writes DIR/events.parquet (timestamp as a naive UTC datetime) sorted by time.
"""

import argparse
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

EVENTS = ["login", "page_view", "report_created", "report_shared", "dashboard_built",
          "export_scheduled", "help_viewed", "error_shown", "integration_connected",
          "teammate_invited", "nps_submitted", "import_failed", "search", "comment_added",
          "onboarding_started", "data_source_connected", "data_imported", "survey_submitted"]
WEIGHTS = np.array([18, 30, 7, 3, 2, 1.5, 6, 2, 0.3, 0.4, 0.1, 0.7, 15, 14,
                    0.05, 0.05, 0.2, 0.05])
START = np.datetime64("2020-01-01T00:00:00", "ms").astype(np.int64)
DAY = 86_400_000
DAYS = 366


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    users = max(50, a.events // 1000)
    signup = rng.uniform(0, 120, users)
    life = rng.exponential(240, users)
    end = np.minimum(signup + life, DAYS)
    rate = rng.lognormal(np.log(4.0), 0.8, users)
    # scale rates so the expected total is the requested number of events
    expected = (rate * (end - signup)).sum()
    rate *= a.events / expected
    p = WEIGHTS / WEIGHTS.sum()
    cols = {"user_id": [], "ts": [], "event": [], "value": []}
    for u in range(users):
        days = np.arange(int(signup[u]), int(np.ceil(end[u])))
        if days.size == 0:
            continue
        fade = np.clip((end[u] - days) / 21.0, 0.05, 1.0) if end[u] < DAYS else 1.0
        weekly = np.where(days % 7 >= 5, 0.45, 1.15)
        n = rng.poisson(rate[u] * weekly * fade)
        day = np.repeat(days, n)
        if day.size == 0:
            continue
        # events bunch into sessions: a session start per day, minutes apart within it
        ms = day * DAY + rng.integers(7 * 3600, 22 * 3600, day.size) * 1000
        ms.sort()
        ev = rng.choice(len(EVENTS), day.size, p=p)
        value = np.where(ev == EVENTS.index("export_scheduled"),
                         np.round(rng.gamma(2.0, 40.0, day.size), 2), np.nan)
        cols["user_id"].append(np.full(day.size, u + 1, dtype=np.int64))
        cols["ts"].append(START + ms)
        cols["event"].append(ev)
        cols["value"].append(value)
    uid = np.concatenate(cols["user_id"])
    ts = np.concatenate(cols["ts"])
    ev = np.concatenate(cols["event"])
    value = np.concatenate(cols["value"])
    order = np.argsort(ts, kind="stable")
    table = pa.table({
        "user_id": pa.array(uid[order]).cast(pa.string()),
        "timestamp": pa.array(ts[order].astype("datetime64[ms]")),
        "event": pa.DictionaryArray.from_arrays(pa.array(ev[order].astype(np.int32)),
                                                pa.array(EVENTS)).cast(pa.string()),
        "value": pa.array(value[order], from_pandas=True),
    })
    a.out.mkdir(parents=True, exist_ok=True)
    tmp = a.out / "events.parquet.tmp"
    pq.write_table(table, tmp, row_group_size=1 << 20)
    os.replace(tmp, a.out / "events.parquet")
    print(f"{table.num_rows} events, {users} users -> {a.out / 'events.parquet'}")


if __name__ == "__main__":
    main()
