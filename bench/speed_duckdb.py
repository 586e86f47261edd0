#!/usr/bin/env python3
"""churnrisk's per-user feature aggregation as DuckDB SQL: the speed peer for features.

What it measures
----------------
The time DuckDB needs, straight from the Parquet log, to compute the same per-user feature
frame at an as-of date T that bench/speed_pandas.py computes (churnrisk's default catalog:
features/default.toml + src/features/catalog.rs + src/features/compute.rs), for the
population of users with an event in the 28 days before T. Features only: no model, no
list. Two queries, both timed: the 12 most frequent event types before T (they name the
per-type columns), then the feature query, materialized as an Arrow table (`to_arrow_table()`). DuckDB runs
with `SET threads=2` (the project's machine has 2 cores) and `memory_limit` at
--mem-cap-gb (default 16; DuckDB spills to its temp directory rather than exceed it).

Prints one JSON line: {"tool": "duckdb", "events": N, "users": U, "features_s": ...,
"total_s": ...}; on running out of memory it carries "error" and exits 3.

Usage:
  bench/.venv/bin/python bench/speed_duckdb.py --events E.parquet [--users U.csv] \
      --as-of 2026-07-06          # --events may also be a directory of Parquet files
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse
import json
import sys
import tomllib
from pathlib import Path

import duckdb
import pandas as pd

DAY_MS = 86_400_000
ACTIVE_DAYS = 28
SLOPE_WEEKS = 6
ROOT = Path(__file__).resolve().parent.parent


def q(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def any_of(names: list[str]) -> str:
    return f"event IN ({', '.join(map(q, names))})" if names else "false"


def ts_expr(dtype: str) -> str:
    """SQL turning the `timestamp` column into epoch milliseconds, whatever its type."""
    d = dtype.upper()
    if d.startswith("TIMESTAMP") or d == "DATE":
        return "epoch_ms(CAST(\"timestamp\" AS TIMESTAMP))" if "TIME ZONE" not in d \
            else "epoch_ms(\"timestamp\")"
    if d in ("BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "DOUBLE", "FLOAT"):
        return ("CAST(CASE WHEN abs(\"timestamp\") >= 1e11 THEN \"timestamp\" "
                "ELSE \"timestamp\" * 1000 END AS BIGINT)")
    return "epoch_ms(CAST(\"timestamp\" AS TIMESTAMPTZ))"  # ISO-8601 text


def feature_sql(src: str, schema: dict[str, str], users: str | None, T: int, min_ts: int,
                spec: dict, types: list[str]) -> str:
    e, w = spec["events"], spec.get("windows", {})
    r, p, l = w.get("recent_days", 14), w.get("prior_days", 28), w.get("long_days", 90)
    value, core = e["value"], e.get("core", [])
    login, feedback, friction = e.get("login", []), e.get("feedback", []), e.get("friction", [])
    activation = e.get("activation", []) or value
    funnels = [(g["name"], g["steps"]) for g in spec.get("funnels", [])]
    ratios = [(g["name"], g["numerator"], g["denominator"]) for g in spec.get("ratios", [])]
    last_day = (T + DAY_MS - 1) // DAY_MS - 1
    horizon = max(r + p, l, 7 * SLOPE_WEEKS)

    value_col = "value" if "value" in schema else "NULL::DOUBLE"
    if "session_id" in schema:
        session = "CAST(session_id AS VARCHAR)"
        base = f"""SELECT CAST(user_id AS VARCHAR) AS user_id, {ts_expr(schema['timestamp'])} AS ts,
                   CAST(event AS VARCHAR) AS event, {value_col} AS value, {session} AS session_id
            FROM {src}"""
    else:  # no session_id: a session ends after 30 minutes without an event
        base = f"""SELECT user_id, ts, event, value,
                   sum(new) OVER (PARTITION BY user_id ORDER BY ts) AS session_id
            FROM (SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts)
                                      <= 1800000 THEN 0 ELSE 1 END AS new
                  FROM (SELECT CAST(user_id AS VARCHAR) AS user_id,
                               {ts_expr(schema['timestamp'])} AS ts,
                               CAST(event AS VARCHAR) AS event, {value_col} AS value
                        FROM {src}))"""

    def within(lo: int, hi: int) -> str:
        return f"(age >= {lo} AND age < {hi})"

    def cnt(cond: str, alias: str) -> str:
        return f"count(*) FILTER (WHERE {cond})::DOUBLE AS \"{alias}\""

    aggs = [
        "min(ts) AS first_ts", "max(ts) AS last_ts",
        "max(ts) FILTER (WHERE is_value) AS last_value_ts",
        "min(ts) FILTER (WHERE is_activation) AS activation_ts",
        cnt(f"is_value AND {within(0, r)}", "value_actions_recent"),
        cnt(f"is_value AND {within(r, r + p)}", "value_actions_prior"),
        cnt(f"is_value AND {within(0, l)}", "value_actions_long"),
        "count(*)::DOUBLE AS events_total",
        cnt("is_value", "value_total"),
        f"coalesce(sum(value) FILTER (WHERE is_value AND {within(0, l)}), 0)::DOUBLE "
        "AS value_amount_long",
        cnt(f"{any_of(feedback)} AND {within(0, l)}", "feedback_long"),
        cnt(f"{any_of(friction)} AND {within(0, r)}", "friction_recent"),
    ]
    for name, steps in funnels:
        aggs += [cnt(f"event = {q(s)}", f"funnel_{name}_{i}") for i, s in enumerate(steps)]
    ratio_events = sorted({x for _, a, b in ratios for x in (a, b)})
    aggs += [cnt(f"event = {q(x)} AND {within(0, l)}", f"ratio_n_{x}") for x in ratio_events]
    for x in types:
        aggs += [cnt(f"event = {q(x)} AND {within(0, r)}", f"c_recent__{x}"),
                 cnt(f"event = {q(x)} AND {within(r, r + p)}", f"c_prior__{x}"),
                 cnt(f"event = {q(x)} AND {within(0, l)}", f"c_long__{x}")]
    week_aggs = ", ".join(cnt(within(7 * k, 7 * k + 7), f"week_{k}") for k in range(SLOPE_WEEKS))

    signup = ("coalesce(u.signup_ts, pu.first_ts, {T})" if users else
              "coalesce(pu.first_ts, {T})").format(T=T)
    users_cte = (f""", users AS (
            SELECT CAST(user_id AS VARCHAR) AS user_id,
                   epoch_ms(CAST(signup_at AS TIMESTAMPTZ)) AS signup_ts
            FROM read_csv({q(users)}, types={{'user_id': 'VARCHAR', 'signup_at': 'VARCHAR'}}))"""
                 if users else "")
    users_join = "LEFT JOIN users u USING (user_id)" if users else ""
    mean_x = (SLOPE_WEEKS - 1) / 2
    sxx = sum((k - mean_x) ** 2 for k in range(SLOPE_WEEKS))
    slope = " + ".join(f"week_{k} * {(mean_x - k) / sxx!r}" for k in range(SLOPE_WEEKS))

    def log_ratio(a: str, b: str) -> str:
        return f"ln(({a} + 1) / ({b} * {r / p!r} + 1))"

    def z(c: str) -> str:  # counts of users absent from a part are 0
        return f"coalesce({c}, 0)"

    funnel_cols = []
    for name, steps in funnels:
        terms, cond = [], []
        for i in range(len(steps)):
            cond.append(f"{z(f'funnel_{name}_{i}')} > 0")
            terms.append(f"CASE WHEN {' AND '.join(cond)} THEN 1 ELSE 0 END")
        funnel_cols.append(f"({' + '.join(terms)}) / {len(steps)}.0 AS funnel_{name}")
    ratio_cols = [f"CASE WHEN {z(f'ratio_n_{d}')} > 0 THEN {z(f'ratio_n_{n}')} / "
                  f"ratio_n_{d} ELSE 0 END AS ratio_{name}" for name, n, d in ratios]
    rate_cols = []
    for x in types:
        rc, pc, lc = (z(f'"c_{k}__{x}"') for k in ("recent", "prior", "long"))
        rate_cols += [f"{rc} * s_recent AS \"n_recent__{x}\"",
                      f"CASE WHEN prior_seen THEN {pc} * s_prior ELSE {rc} * s_recent * "
                      f"{p / r!r} END AS \"n_prior__{x}\"",
                      f"{lc} * s_long AS \"n_long__{x}\""]

    def scale(end: int, cap: int) -> str:
        expo = f"least((({end} - observed_from) / {DAY_MS}.0), {cap})"
        return f"{cap} / greatest({expo}, {min(7, cap)})"

    presence = any_of(login) if login else "true"
    return f"""
        WITH ev AS ({base}),
        e AS (
            SELECT *, {last_day} - ts // {DAY_MS} AS age,
                   {any_of(value)} AS is_value, {any_of(activation)} AS is_activation
            FROM ev WHERE ts < {T}),
        pop AS (SELECT DISTINCT user_id FROM e WHERE ts >= {T - ACTIVE_DAYS * DAY_MS}),
        pe AS (SELECT e.* FROM e SEMI JOIN pop USING (user_id)),
        per_user AS (SELECT user_id, {', '.join(aggs)} FROM pe GROUP BY user_id),
        days AS (
            SELECT user_id, {cnt(within(0, r), 'active_days_recent')},
                   {cnt(within(r, r + p), 'active_days_prior')},
                   {cnt(within(0, l), 'active_days_long')}, {week_aggs}
            FROM (SELECT DISTINCT user_id, age FROM pe WHERE {presence} AND age < {horizon})
            GROUP BY user_id),
        core AS (
            SELECT user_id, count(DISTINCT event)::DOUBLE AS core_features_used
            FROM pe WHERE {any_of(core)} AND {within(0, l)} GROUP BY user_id),
        sess AS (
            SELECT user_id, count(DISTINCT session_id)::DOUBLE AS sessions_recent
            FROM pe WHERE {within(0, r)} GROUP BY user_id),
        sess_min AS (
            SELECT user_id, median(minutes) AS session_minutes FROM (
                SELECT user_id, session_id, (max(ts) - min(ts)) / 60000.0 AS minutes
                FROM pe WHERE {within(0, l)} GROUP BY user_id, session_id)
            GROUP BY user_id){users_cte},
        j AS (
            SELECT pop.user_id, pu.* EXCLUDE (user_id), {signup} AS signup,
                   greatest(({T} - {signup}) / {DAY_MS}.0, 0) AS tenure,
                   greatest({signup}, {min_ts}) AS observed_from,
                   {z('active_days_recent')} AS ad_r, {z('active_days_prior')} AS ad_p,
                   {z('active_days_long')} AS ad_l,
                   {', '.join(z(f'week_{k}') + f' AS week_{k}' for k in range(SLOPE_WEEKS))},
                   {z('core_features_used')} AS core_features_used,
                   {z('sessions_recent')} AS sessions_recent,
                   {z('session_minutes')} AS session_minutes
            FROM pop LEFT JOIN per_user pu USING (user_id) LEFT JOIN days USING (user_id)
                 LEFT JOIN core USING (user_id) LEFT JOIN sess USING (user_id)
                 LEFT JOIN sess_min USING (user_id) {users_join}),
        k AS (
            SELECT *, {scale(T, r)} AS s_recent, {scale(T - r * DAY_MS, p)} AS s_prior,
                   {scale(T, l)} AS s_long,
                   least(({T - r * DAY_MS} - observed_from) / {DAY_MS}.0, {p}) >= {min(7, p)}
                       AS prior_seen
            FROM j)
        SELECT user_id,
            ad_r AS active_days_recent, ad_p AS active_days_prior,
            {log_ratio('ad_r', 'ad_p')} AS activity_change,
            {slope} AS activity_slope,
            coalesce(({T} - last_value_ts) / {DAY_MS}.0, tenure) AS days_since_last_value,
            coalesce(({T} - last_ts) / {DAY_MS}.0, tenure) AS days_since_last_event,
            {z('value_actions_long')} / greatest(ad_l, 1) AS value_per_active_day,
            core_features_used, tenure AS tenure_days,
            (activation_ts IS NOT NULL)::DOUBLE AS activated,
            CASE WHEN activation_ts IS NULL THEN tenure  -- greatest() skips NULLs
                 ELSE greatest((activation_ts - signup) / {DAY_MS}.0, 0) END
                AS time_to_value_days,
            sessions_recent, session_minutes,
            {log_ratio(z('value_actions_recent'), z('value_actions_prior'))} AS value_trend,
            {z('value_actions_long')} AS value_actions_long,
            {z('events_total')} * 7 / greatest(tenure, 1) AS events_per_week,
            {z('value_total')} * 7 / greatest(tenure, 1) AS value_per_week,
            {z('value_amount_long')} AS value_amount_long,
            {z('feedback_long')} AS feedback_long, {z('friction_recent')} AS friction_recent,
            {', '.join(funnel_cols + ratio_cols + rate_cols)}
        FROM k ORDER BY user_id"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", required=True, type=Path,
                    help="a Parquet file, or a directory of Parquet files")
    ap.add_argument("--users", type=Path, help="users.csv (user_id, signup_at, ...)")
    ap.add_argument("--as-of", required=True, help="YYYY-MM-DD (midnight UTC)")
    ap.add_argument("--features", type=Path, default=ROOT / "features" / "default.toml")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mem-cap-gb", type=float, default=16.0)
    ap.add_argument("--out", type=Path, help="also write the feature frame here (Parquet)")
    a = ap.parse_args()

    spec = tomllib.loads(a.features.read_text())
    T = int(pd.Timestamp(a.as_of, tz="UTC").value // 1_000_000)
    path = str(a.events / "**" / "*.parquet") if a.events.is_dir() else str(a.events)
    src = f"read_parquet({q(path)})"
    result: dict = {"tool": "duckdb"}
    code = 0
    con = duckdb.connect()
    con.execute(f"SET threads={a.threads}")
    con.execute(f"SET memory_limit='{a.mem_cap_gb:g}GB'")
    try:
        t0 = time.perf_counter()
        schema = {name: dtype for name, dtype, *_ in
                  con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        ts = ts_expr(schema["timestamp"])
        # one pass: the log's first event (nobody is observable before it) and the most
        # frequent event types before T (they name the per-type columns)
        counts = con.execute(
            f"SELECT CAST(event AS VARCHAR) AS ev, count(*) FILTER (WHERE {ts} < {T}) AS n, "
            f"min({ts}) AS first FROM {src} GROUP BY ev").fetchall()
        min_ts = min(first for _, _, first in counts)
        top = int(spec.get("event_rates", {}).get("top", 12))
        types = [ev for ev, n, _ in sorted(counts, key=lambda c: (-c[1], c[0])) if n > 0][:top]
        sql = feature_sql(src, schema, str(a.users) if a.users else None, T, min_ts, spec,
                          types)
        table = con.sql(sql).to_arrow_table()  # materialized
        result["features_s"] = round(time.perf_counter() - t0, 3)
        result["users"] = table.num_rows
        result["features"] = table.num_columns - 1
        result["events"] = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]  # untimed
        if a.out:
            import pyarrow.parquet as pq
            pq.write_table(table, a.out)
    except (duckdb.OutOfMemoryException, MemoryError) as err:
        result["error"] = f"out of memory at {a.mem_cap_gb:g} GB cap ({str(err)[:120]})"
        code = 3
    result["total_s"] = round(time.perf_counter() - T_START, 3)
    print(json.dumps(result), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
