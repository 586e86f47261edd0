#!/usr/bin/env python3
"""churnrisk's job hand-written in pandas + numpy + scikit-learn: the speed peer.

What it measures
----------------
The time and memory a competent, vectorized pandas implementation needs for the work that
`churnrisk score` and `churnrisk train` do on the same event log (Parquet, CSV, CSV.gz or NDJSON), so that
bench/speed.sh can put the two side by side. It is not a quality peer (that is
bench/fcwd_peer.py): the features follow churnrisk's default catalog
(features/default.toml + src/features/catalog.rs + src/features/compute.rs) closely, not
bit for bit.

Features at an as-of date T (events with ts < T only; windows are whole UTC days counted
back from the day before T, as in compute.rs: recent = 14 d, prior = the 28 d before it,
long = 90 d; the lengths and the event roles are read from the feature file):
  active days recent / prior / 90 d and 6 weekly counts (presence = the `login` events),
  activity_change and value_trend (ln ratios), activity_slope, days since the last event
  and the last value action, value per active day, distinct core features used (90 d),
  tenure (users.csv signup_at, else the first event), activated, time to value, sessions
  in the recent window, median session minutes (90 d), value actions recent / prior / 90 d,
  events and value actions per week since signup, sum of `value` over value actions (90 d),
  feedback (90 d), friction (recent), the funnel share reached in order, the ratios, and
  the 12 most frequent event types' recent / prior / 90 d counts scaled by the days the
  user was observable. Population = users with an event in the 28 days before T.

--mode score   features at T, then log1p/standardize and predict_proba with a logistic
               regression: the one saved by `--mode train --save-model` when --model-json
               is given, else one fitted (untimed) on the same frame against a stand-in
               label (no value action in the recent window) so the scoring step is real.
               With --out, writes the ranked list (rank, user_id, churn_probability).
--mode train   panel of weekly as-of dates T-28d, T-35d, ... (at most 12, stopping before a
               date with less than recent+prior = 42 days of log before it), features at
               each, label = no value action in the 28 days after the date.
               LogisticRegression(lbfgs, C=1.0, max_iter=1000) on standardized features of
               the training dates, validated on the latest date T-28d (log loss, ROC AUC).
               Training dates are those whose label window ends by T-28d, as churnrisk's
               purge does (src/model/train.rs); the two panels then hold the same rows.
               churnrisk also tries 5 L2 strengths, fits a baseline and refits on every
               date: its training does more fitting than this one fit.

Prints one JSON line at the end, e.g.
  {"tool": "pandas+sklearn", "mode": "train", "events": N, "users": U, "load_s": ...,
   "features_s": ..., "fit_s": ..., "total_s": ..., "log_loss": ..., "roc_auc": ...}
load_s is reading the log into typed columns, features_s the per-user aggregation
(with populations and labels), total_s everything from interpreter start (imports too).
Memory is capped with RLIMIT_AS (--mem-cap-gb, default 16): when it is hit the JSON line
carries "error": "out of memory at N GB cap" and the exit code is 3.

Usage:
  bench/.venv/bin/python bench/speed_pandas.py --events E.parquet [--users U.csv] \
      --as-of 2026-07-06 --mode train [--save-model M.json]
  bench/.venv/bin/python bench/speed_pandas.py --events E.parquet [--users U.csv] \
      --as-of 2026-07-06 --mode score [--model-json M.json] [--out at_risk.csv]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()  # before the heavy imports: total_s includes them

import argparse
import json
import os

# One BLAS thread unless the environment says otherwise: the fit's matrix-vector products
# are memory-bound, and on a 2-core box OpenBLAS's thread hand-offs made the small fit
# 20x slower (2.8 s vs 0.13 s on 8k rows) whenever anything else was running.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
import resource
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

DAY_MS = 86_400_000
SESSION_GAP_MS = 30 * 60_000  # without session_id: a session ends after 30 idle minutes
ACTIVE_DAYS = 28  # population: an event in the 28 days before the as-of date
HORIZON_DAYS = 28  # label: no value action in the 28 days after it
SLOPE_WEEKS = 6
ROOT = Path(__file__).resolve().parent.parent

# Features used as they are (src/features/catalog.rs: Transform::None); all others get
# log1p before standardizing.
RAW_FEATURES = {"active_days_recent", "active_days_prior", "activity_change",
                "activity_slope", "core_features_used", "activated", "value_trend"}


# --------------------------------------------------------------------------- the spec
@dataclass
class Spec:
    login: list[str]
    value: list[str]
    activation: list[str]
    core: list[str]
    feedback: list[str]
    friction: list[str]
    recent: int
    prior: int
    long: int
    funnels: list[tuple[str, list[str]]]
    ratios: list[tuple[str, str, str]]
    top: int

    @classmethod
    def load(cls, path: Path) -> "Spec":
        f = tomllib.loads(path.read_text())
        e, w = f["events"], f.get("windows", {})
        return cls(
            login=list(e.get("login", [])), value=list(e["value"]),
            activation=list(e.get("activation", [])) or list(e["value"]),
            core=list(e.get("core", [])), feedback=list(e.get("feedback", [])),
            friction=list(e.get("friction", [])),
            recent=int(w.get("recent_days", 14)), prior=int(w.get("prior_days", 28)),
            long=int(w.get("long_days", 90)),
            funnels=[(g["name"], list(g["steps"])) for g in f.get("funnels", [])],
            ratios=[(g["name"], g["numerator"], g["denominator"]) for g in f.get("ratios", [])],
            top=int(f.get("event_rates", {}).get("top", 12)),
        )


# --------------------------------------------------------------------------- the log
def to_epoch_ms(s: pd.Series) -> np.ndarray:
    """A timestamp column of any supported type as int64 epoch milliseconds (NaT: -1)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return s.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_float_dtype(s):
        n = s.to_numpy(dtype=np.float64)
        return np.where(np.abs(n) >= 1e11, n, n * 1000.0).astype(np.int64)  # s or ms
    ts = pd.to_datetime(s, utc=True, format="ISO8601", errors="coerce")
    return ts.dt.tz_localize(None).to_numpy(dtype="datetime64[ms]").astype(np.int64)


def codes_of(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(int32 codes, names) of a categorical or plain column."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy(np.int32), s.cat.categories.astype(str).to_numpy()
    codes, names = pd.factorize(s, sort=False)  # e.g. integer ids: named as text after
    return codes.astype(np.int32), np.asarray(names).astype(str).astype(object)


def read_log(path: Path) -> pd.DataFrame:
    """The log's canonical columns, whatever the file format: Parquet through pyarrow,
    CSV / CSV.gz with pyarrow's multi-threaded CSV reader, NDJSON(.gz) with pyarrow's JSON
    reader (the fastest readers pandas has). Text columns come in as dictionaries: pandas
    categoricals, no Python strings."""
    names = ("user_id", "timestamp", "event", "value", "session_id")
    lower = str(path).lower()
    if lower.endswith((".csv", ".csv.gz")):
        import pyarrow.csv as pacsv
        header = pacsv.open_csv(path).schema.names
        cols = [c for c in names if c in header]
        types = {c: pa.string() for c in ("user_id", "event", "session_id")}
        types["value"] = pa.float64()
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=cols, column_types={c: t for c, t in types.items() if c in cols},
            timestamp_parsers=[pacsv.ISO8601]))
    elif lower.endswith((".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz", ".json.gz")):
        import pyarrow.json as pajson
        table = pajson.read_json(path)
        table = table.select([c for c in names if c in table.column_names])
        if "timestamp" in table.column_names and pa.types.is_string(table["timestamp"].type):
            ts = pd.to_datetime(table["timestamp"].to_pandas(), utc=True, format="ISO8601")
            table = table.set_column(table.column_names.index("timestamp"), "timestamp",
                                     pa.array(ts))
    else:
        dataset = ds.dataset(path, format="parquet")
        schema = dataset.schema
        cols = [c for c in names if c in schema.names]
        text = [c for c in ("user_id", "event", "session_id") if c in cols
                and (pa.types.is_string(schema.field(c).type)
                     or pa.types.is_large_string(schema.field(c).type))]
        return pd.read_parquet(path, engine="pyarrow", columns=cols, read_dictionary=text)
    for c in ("user_id", "event", "session_id"):
        if c in table.column_names:
            i = table.column_names.index(c)
            col = table[c]
            if not pa.types.is_string(col.type):
                col = col.cast(pa.string())
            table = table.set_column(i, c, col.dictionary_encode())
    return table.to_pandas()


class Events:
    """The log as numpy columns: user code, ts (epoch ms), event code, value, session code;
    sorted by ts when `sort` (train: many dates) so windows are slices."""

    def __init__(self, path: Path, before: int, sort: bool):
        df = read_log(path)
        ts = to_epoch_ms(df["timestamp"])
        ok = (ts >= 0) & df["user_id"].notna().to_numpy() & df["event"].notna().to_numpy()
        self.n_rows = len(df)
        self.min_ts = int(ts[ok].min())
        keep = ok & (ts < before)
        df = df[keep]
        ts = ts[keep]
        uid, self.user_names = codes_of(df["user_id"])
        ev, self.event_names = codes_of(df["event"])
        value = (df["value"].to_numpy(np.float64, na_value=np.nan) if "value" in df
                 else np.full(len(df), np.nan))
        if "session_id" in df and df["session_id"].notna().all():
            sess, _ = codes_of(df["session_id"])
        else:
            sess = None
        del df
        ts_sorted = bool(np.all(ts[1:] >= ts[:-1]))
        if sess is None or (sort and not ts_sorted):
            order = np.lexsort((ts, uid)) if sess is None else np.argsort(ts)
            uid, ts, ev, value = uid[order], ts[order], ev[order], value[order]
            if sess is not None:
                sess = sess[order]
            del order
        if sess is None:
            # 30-minute rule on the (user, ts) order, then back to ts order if wanted
            new = np.ones(len(ts), dtype=bool)
            new[1:] = (uid[1:] != uid[:-1]) | (np.diff(ts) > SESSION_GAP_MS)
            sess = np.cumsum(new).astype(np.int64) - 1  # globally unique session numbers
            if sort:
                order = np.argsort(ts)
                uid, ts, ev, value, sess = (a[order] for a in (uid, ts, ev, value, sess))
        self.uid, self.ts, self.ev, self.value, self.sess = uid, ts, ev, value, sess
        self.sorted = sort
        self.n_users = len(self.user_names)
        self.n_sessions = int(sess.max()) + 1 if len(sess) else 1
        self.code = {str(n): i for i, n in enumerate(self.event_names)}

    def codes(self, names: list[str]) -> np.ndarray:
        return np.array([self.code[n] for n in names if n in self.code], dtype=np.int32)

    def flag(self, names: list[str]) -> np.ndarray:
        """Per event code: is it one of `names`."""
        f = np.zeros(len(self.event_names), dtype=bool)
        f[self.codes(names)] = True
        return f

    def window(self, lo: int | None, hi: int) -> slice | np.ndarray:
        """Rows with lo <= ts < hi: a slice when sorted, else a boolean mask."""
        if self.sorted:
            a = 0 if lo is None else int(np.searchsorted(self.ts, lo, "left"))
            return slice(a, int(np.searchsorted(self.ts, hi, "left")))
        m = self.ts < hi
        return m if lo is None else m & (self.ts >= lo)

    def top_types(self, before: int, k: int) -> list[str]:
        """The k most frequent event types before `before` (ties by name), as churnrisk."""
        n = np.bincount(self.ev[self.window(None, before)], minlength=len(self.event_names))
        order = sorted(range(len(n)), key=lambda i: (-n[i], str(self.event_names[i])))
        return [str(self.event_names[i]) for i in order[:k] if n[i] > 0]


def load_signups(path: Path | None, ev: Events) -> np.ndarray:
    """signup_at per user code (epoch ms as float, NaN when unknown)."""
    out = np.full(ev.n_users, np.nan)
    if path is None:
        return out
    u = pd.read_csv(path, engine="pyarrow", usecols=["user_id", "signup_at"],
                    dtype={"user_id": str, "signup_at": str})
    idx = pd.Index(ev.user_names.astype(str)).get_indexer(u["user_id"])
    ts = to_epoch_ms(u["signup_at"]).astype(np.float64)
    ts[pd.isna(u["signup_at"]).to_numpy()] = np.nan
    ok = idx >= 0
    out[idx[ok]] = ts[ok]
    return out


# ------------------------------------------------------------------------- features
def population(ev: Events, t: int) -> np.ndarray:
    """User codes with an event in [t - 28 d, t), sorted."""
    return np.unique(ev.uid[ev.window(t - ACTIVE_DAYS * DAY_MS, t)])


def churned(ev: Events, pop: np.ndarray, t: int, is_value: np.ndarray) -> np.ndarray:
    """1 when the user did no value action in [t, t + 28 d)."""
    w = ev.window(t, t + HORIZON_DAYS * DAY_MS)
    kept = np.unique(ev.uid[w][is_value[ev.ev[w]]])
    return (~np.isin(pop, kept, assume_unique=True)).astype(np.int8)


def features(ev: Events, spec: Spec, t: int, pop: np.ndarray, types: list[str],
             signups: np.ndarray) -> pd.DataFrame:
    """Raw features of the users `pop` (user codes) at t, one row per user in pop order."""
    r, p, l = spec.recent, spec.prior, spec.long
    n = len(pop)
    pidx_of = np.full(ev.n_users, -1, dtype=np.int32)  # user code -> row in pop
    pidx_of[pop] = np.arange(n)

    # ---- everything before t: first/last event, last value, activation, totals, funnel
    b = ev.window(None, t)
    bp = pidx_of[ev.uid[b]]
    in_pop = bp >= 0
    bp, bts, bev = bp[in_pop], ev.ts[b][in_pop], ev.ev[b][in_pop]
    g = pd.Series(bts).groupby(bp, sort=True).agg(["min", "max"])
    first_ts = np.full(n, np.nan)
    last_ts = np.full(n, np.nan)
    first_ts[g.index] = g["min"].to_numpy()
    last_ts[g.index] = g["max"].to_numpy()
    is_value = ev.flag(spec.value)[bev]
    last_value_ts = np.full(n, np.nan)
    s = pd.Series(bts[is_value]).groupby(bp[is_value]).max()
    last_value_ts[s.index] = s.to_numpy()
    is_act = ev.flag(spec.activation)[bev]
    activation_ts = np.full(n, np.nan)
    s = pd.Series(bts[is_act]).groupby(bp[is_act]).min()
    activation_ts[s.index] = s.to_numpy()
    n_types = len(ev.event_names)
    ever = np.bincount(bp.astype(np.int64) * n_types + bev, minlength=n * n_types)
    ever = ever.reshape(n, n_types)
    del bp, bts, bev, is_value, is_act, g, s

    # ---- the long window: per (user, needed event type, window part) counts
    last_day = (t + DAY_MS - 1) // DAY_MS - 1  # age 0 = the last day that began before t
    w = ev.window(t - l * DAY_MS, t)
    wp = pidx_of[ev.uid[w]]
    in_pop = wp >= 0
    wp, wts, wev = wp[in_pop], ev.ts[w][in_pop], ev.ev[w][in_pop]
    wval, wsess = ev.value[w][in_pop], ev.sess[w][in_pop]
    age = last_day - wts // DAY_MS
    part = np.where(age < r, 0, np.where(age < r + p, 1, 2))  # recent / prior / older
    ratio_events = sorted({e for _, a, b2 in spec.ratios for e in (a, b2)})
    needed = list(dict.fromkeys(types + spec.value + spec.core + spec.feedback
                                + spec.friction + ratio_events))
    col = {e: i for i, e in enumerate(needed)}
    need_of = np.full(n_types, -1, dtype=np.int64)
    for e, i in col.items():
        if e in ev.code:
            need_of[ev.code[e]] = i
    k = need_of[wev]
    m = k >= 0
    K = len(needed)
    cnt = np.bincount((wp[m].astype(np.int64) * K + k[m]) * 3 + part[m], minlength=n * K * 3)
    cnt = cnt.reshape(n, K, 3).astype(np.float64)
    c_recent, c_prior, c_long = cnt[:, :, 0], cnt[:, :, 1], cnt.sum(axis=2)

    def total(mat: np.ndarray, names: list[str]) -> np.ndarray:
        return mat[:, [col[e] for e in names]].sum(axis=1) if names else np.zeros(n)

    is_value_w = ev.flag(spec.value)[wev] & (age < l)
    value_amount = np.bincount(wp[is_value_w], weights=np.nan_to_num(wval[is_value_w]),
                               minlength=n)

    # ---- active days: distinct (user, day) with presence
    presence = ev.flag(spec.login)[wev] if spec.login else np.ones(len(wev), dtype=bool)
    horizon = max(r + p, l, 7 * SLOPE_WEEKS)
    pres = presence & (age < horizon)
    days = pd.unique(wp[pres].astype(np.int64) * horizon + age[pres])
    d_user, d_age = days // horizon, days % horizon

    def days_in(lo: int, hi: int) -> np.ndarray:
        sel = (d_age >= lo) & (d_age < hi)
        return np.bincount(d_user[sel], minlength=n).astype(np.float64)

    ad_recent, ad_prior, ad_long = days_in(0, r), days_in(r, r + p), days_in(0, l)
    weeks = [days_in(7 * j, 7 * j + 7) for j in range(SLOPE_WEEKS)]

    # ---- sessions: distinct in the recent window; median length over the long window
    skey = wp.astype(np.int64) * ev.n_sessions + wsess
    recent_s = pd.unique(skey[age < r])
    sessions_recent = np.bincount(recent_s // ev.n_sessions, minlength=n).astype(np.float64)
    span = pd.Series(wts[age < l]).groupby(skey[age < l]).agg(["min", "max"])
    minutes = (span["max"] - span["min"]) / 60_000.0
    med = minutes.groupby(span.index.to_numpy() // ev.n_sessions).median()
    session_minutes = np.zeros(n)
    session_minutes[med.index] = med.to_numpy()
    del wp, wts, wev, wval, wsess, age, part, k, m, skey, span, minutes, pres

    # ---- derived features (src/features/compute.rs)
    signup = signups[pop]
    signup = np.where(np.isnan(signup), first_ts, signup)
    signup = np.where(np.isnan(signup), float(t), signup)
    tenure = np.maximum((t - signup) / DAY_MS, 0.0)
    va_recent, va_prior = total(c_recent, spec.value), total(c_prior, spec.value)
    va_long = total(c_long, spec.value)
    events_total = ever.sum(axis=1).astype(np.float64)
    value_total = ever[:, ev.codes(spec.value)].sum(axis=1).astype(np.float64)

    def log_ratio(recent: np.ndarray, prior: np.ndarray) -> np.ndarray:
        return np.log((recent + 1.0) / (prior * (r / p) + 1.0))

    mean_x = (SLOPE_WEEKS - 1) / 2.0
    sxx = sum((j - mean_x) ** 2 for j in range(SLOPE_WEEKS))
    f: dict[str, np.ndarray] = {
        "active_days_recent": ad_recent,
        "active_days_prior": ad_prior,
        "activity_change": log_ratio(ad_recent, ad_prior),
        "activity_slope": sum(weeks[j] * ((mean_x - j) / sxx) for j in range(SLOPE_WEEKS)),
        "days_since_last_value": np.where(np.isnan(last_value_ts), tenure,
                                          (t - last_value_ts) / DAY_MS),
        "days_since_last_event": np.where(np.isnan(last_ts), tenure, (t - last_ts) / DAY_MS),
        "value_per_active_day": va_long / np.maximum(ad_long, 1.0),
        "core_features_used": (c_long[:, [col[e] for e in spec.core]] > 0).sum(axis=1)
        .astype(np.float64),
        "tenure_days": tenure,
        "activated": (~np.isnan(activation_ts)).astype(np.float64),
        "time_to_value_days": np.where(np.isnan(activation_ts), tenure,
                                       np.maximum((activation_ts - signup) / DAY_MS, 0.0)),
        "sessions_recent": sessions_recent,
        "session_minutes": session_minutes,
        "value_trend": log_ratio(va_recent, va_prior),
        "value_actions_long": va_long,
        "events_per_week": events_total * 7.0 / np.maximum(tenure, 1.0),
        "value_per_week": value_total * 7.0 / np.maximum(tenure, 1.0),
        "value_amount_long": value_amount,
    }
    if spec.feedback:
        f["feedback_long"] = total(c_long, spec.feedback)
    if spec.friction:
        f["friction_recent"] = total(c_recent, spec.friction)
    for name, steps in spec.funnels:
        reached = np.ones(n, dtype=bool)
        share = np.zeros(n)
        for step in steps:
            c = ever[:, ev.code[step]] if step in ev.code else np.zeros(n)
            reached &= c > 0
            share += reached
        f[f"funnel_{name}"] = share / len(steps)
    for name, num, den in spec.ratios:
        a, d = c_long[:, col[num]], c_long[:, col[den]]
        f[f"ratio_{name}"] = np.where(d > 0, a / np.where(d > 0, d, 1.0), 0.0)

    # per-event-type counts as rates over the days the user was observable (>= 7 days)
    observed_from = np.maximum(signup, float(ev.min_ts))

    def exposure(end: int, cap: int) -> np.ndarray:
        return np.minimum((end - observed_from) / DAY_MS, cap)

    def scale(end: int, cap: int) -> np.ndarray:
        return cap / np.maximum(exposure(end, cap), min(7, cap))

    s_recent, s_prior, s_long = scale(t, r), scale(t - r * DAY_MS, p), scale(t, l)
    prior_seen = exposure(t - r * DAY_MS, p) >= min(7, p)
    for e in types:
        j = col[e]
        recent = c_recent[:, j] * s_recent
        f[f"n_recent__{e}"] = recent
        f[f"n_prior__{e}"] = np.where(prior_seen, c_prior[:, j] * s_prior, recent * (p / r))
        f[f"n_long__{e}"] = c_long[:, j] * s_long
    out = pd.DataFrame(f)
    out.index = pd.Index(ev.user_names[pop].astype(str), name="user_id")
    return out


# ---------------------------------------------------------------------------- model
def transform(x: pd.DataFrame) -> np.ndarray:
    """log1p of every feature but RAW_FEATURES (the catalog's transforms)."""
    z = x.to_numpy(dtype=np.float64, copy=True)
    logged = [i for i, c in enumerate(x.columns) if c not in RAW_FEATURES]
    z[:, logged] = np.log1p(np.maximum(z[:, logged], 0.0))
    return z


def scaling(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = z.mean(axis=0)
    std = z.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def panel_dates(T: int, min_ts: int, spec: Spec, n: int = 12, step_days: int = 7) -> list[int]:
    history = (spec.recent + spec.prior) * DAY_MS
    dates = []
    for k in range(n):
        t = T - HORIZON_DAYS * DAY_MS - k * step_days * DAY_MS
        if t < min_ts + history:
            break
        dates.append(t)
    return dates


# ----------------------------------------------------------------------------- main
def run(a: argparse.Namespace, result: dict) -> None:
    spec = Spec.load(a.features)
    T = int(pd.Timestamp(a.as_of, tz="UTC").value // 1_000_000)

    t0 = time.perf_counter()
    ev = Events(a.events, before=T, sort=a.mode == "train")
    signups = load_signups(a.users, ev)
    result["events"] = ev.n_rows
    result["load_s"] = round(time.perf_counter() - t0, 3)
    is_value = ev.flag(spec.value)

    if a.mode == "train":
        t1 = time.perf_counter()
        types = ev.top_types(T, spec.top)  # as churnrisk: the top types before T
        dates = panel_dates(T, ev.min_ts, spec)
        if not dates:
            raise SystemExit("no panel date has 42 days of history before it")
        panel = []
        for t in dates:
            pop = population(ev, t)
            if len(pop) == 0:
                continue
            panel.append((t, features(ev, spec, t, pop, types, signups),
                          churned(ev, pop, t, is_value)))
        result["features_s"] = round(time.perf_counter() - t1, 3)
        t_val = panel[0][0]
        train_idx = [i for i in range(1, len(panel))
                     if panel[i][0] + HORIZON_DAYS * DAY_MS <= t_val]
        if len(train_idx) < 2:  # churnrisk drops the purge then
            train_idx = list(range(1, len(panel)))
        if not train_idx:
            raise SystemExit("only one panel date fits in the log")

        t2 = time.perf_counter()
        x_tr = pd.concat([panel[i][1] for i in train_idx])
        y_tr = np.concatenate([panel[i][2] for i in train_idx])
        z_tr = transform(x_tr)
        mean, std = scaling(z_tr)
        lr = LogisticRegression(solver="lbfgs", C=1.0, max_iter=1000)
        lr.fit((z_tr - mean) / std, y_tr)
        x_va, y_va = panel[0][1], panel[0][2]
        p_va = lr.predict_proba((transform(x_va) - mean) / std)[:, 1]
        result["fit_s"] = round(time.perf_counter() - t2, 3)
        result["users"] = int(len(x_va))
        result["train_rows"] = int(len(y_tr))
        result["train_dates"] = len(train_idx)
        result["validation_date"] = str(pd.Timestamp(t_val, unit="ms").date())
        result["log_loss"] = round(float(log_loss(y_va, p_va, labels=[0, 1])), 4)
        result["roc_auc"] = round(float(roc_auc_score(y_va, p_va)), 4)
        if a.save_model:
            a.save_model.write_text(json.dumps({
                "features": list(x_tr.columns), "event_types": types,
                "mean": mean.tolist(), "std": std.tolist(),
                "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0])}))
        return

    # --mode score
    model = json.loads(a.model_json.read_text()) if a.model_json else None
    t1 = time.perf_counter()
    types = model["event_types"] if model else ev.top_types(T, spec.top)
    pop = population(ev, T)
    x = features(ev, spec, T, pop, types, signups)
    result["features_s"] = round(time.perf_counter() - t1, 3)
    result["users"] = int(len(x))
    if model is None:
        # No saved model: fit one (not timed) on this frame against a stand-in label so
        # that the timed standardize + predict_proba below is the real thing.
        z = transform(x)
        mean, std = scaling(z)
        y = x["days_since_last_value"] > spec.recent  # no value action in the recent window
        lr = LogisticRegression(solver="lbfgs", C=1.0, max_iter=1000)
        lr.fit((z - mean) / std, y.to_numpy().astype(int))
        coef, intercept = lr.coef_[0], float(lr.intercept_[0])
        result["model"] = "stand-in fit on the scored frame"
    else:
        x = x[model["features"]]
        mean, std = np.array(model["mean"]), np.array(model["std"])
        coef, intercept = np.array(model["coef"]), model["intercept"]
        lr = LogisticRegression()
        lr.classes_, lr.coef_, lr.intercept_ = np.array([0, 1]), coef[None, :], np.array([intercept])
        result["model"] = str(a.model_json)
    t2 = time.perf_counter()
    prob = lr.predict_proba((transform(x) - mean) / std)[:, 1]
    ranked = (pd.DataFrame({"user_id": x.index, "churn_probability": prob.round(4)})
              .sort_values(["churn_probability", "user_id"], ascending=[False, True]))
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    if a.out:
        ranked.to_csv(a.out, index=False)
    result["score_s"] = round(time.perf_counter() - t2, 3)
    result["high_risk"] = int((prob >= 0.5).sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", required=True, type=Path,
                    help="the event log: Parquet (a file or a folder), CSV, CSV.gz or NDJSON(.gz)")
    ap.add_argument("--users", type=Path, help="users.csv (user_id, signup_at, ...)")
    ap.add_argument("--as-of", required=True, help="YYYY-MM-DD (midnight UTC)")
    ap.add_argument("--mode", required=True, choices=["score", "train"])
    ap.add_argument("--features", type=Path, default=ROOT / "features" / "default.toml")
    ap.add_argument("--model-json", type=Path, help="score with the model --save-model wrote")
    ap.add_argument("--save-model", type=Path, help="train: write the fitted model here")
    ap.add_argument("--out", type=Path, help="score: write the ranked list here (CSV)")
    ap.add_argument("--mem-cap-gb", type=float, default=16.0)
    a = ap.parse_args()

    cap = int(a.mem_cap_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    result: dict = {"tool": "pandas+sklearn", "mode": a.mode}
    code = 0
    try:
        run(a, result)
    except MemoryError:
        result["error"] = f"out of memory at {a.mem_cap_gb:g} GB cap"
        code = 3
    result["total_s"] = round(time.perf_counter() - T_START, 3)
    result.setdefault("log_loss", None)
    result.setdefault("roc_auc", None)
    print(json.dumps(result), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
