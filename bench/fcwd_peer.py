#!/usr/bin/env python3
"""A hand-written churn model in the style of *Fighting Churn with Data* (Carl Gold).

It is the "standard to beat" for churnrisk's model quality: a careful pandas + numpy +
scikit-learn pipeline evaluated on exactly the observation panel and labels that
`churnrisk train` uses, so the two validation metrics are comparable.

Panel and labels (mirrors src/labels.rs and src/model/train.rs)
----------------------------------------------------------------
- As-of date T (midnight UTC). Panel dates t_k = T - H - step*k (k = 0..panel_dates-1,
  H = horizon 28 days, step 7 days; 7 days earlier under the subscription definition); the loop stops at the first date earlier than
  first_event_ts + history, history = windows.recent_days + windows.prior_days read from the
  churnrisk feature file (42 days for features/default.toml). Dates with an empty
  population are skipped. t_0 is the validation date; training dates are the later panel
  entries whose label window ends by t_0 (t_k + H <= t_0), or all of them if fewer than two.
- Inactivity definition: population at t = users with an event in [t - active_days, t);
  churned = no value action ([events].value in the feature file) in [t, t + H).
- Subscription definition: a user's subscriptions are first joined into FCWD's active
  periods (a row starting within 7 days of the latest end before it renews it, so a monthly
  plan's row per month is one period); population at t = users with a period where
  start <= t and (end empty or end > t); churned = that period ends by t + H.
- The per-date row and churn counts are compared with `training.panel` of a churnrisk
  model file (--model); any difference is printed as a WARNING.

Features (FCWD style), computed at each t from events with ts < t only
---------------------------------------------------------------------
Windows: R = [t - 28d, t) ("this month"), P = [t - 56d, t - 28d) ("last month").
- n_<event>: count of each event type in R, and n_prior_<event> in P, both scaled to a
  28-day rate by the part of the window the user was observable (from max(signup, log
  start) to the window end; at least 7 days counted, as FCWD does for new accounts).
  Event types: every type seen before t_0, most frequent first.
- total_events, value_actions, logins (R and P rates, same scaling).
- active_days: distinct UTC days with any event in R (and active_days_prior in P).
- ratio metrics over R (0 when the denominator is 0): report_shared per report_created,
  value actions per login, page_views per login, help_viewed per login, friction events
  (error_shown + import_failed) per login, events per active day. A ratio whose events the
  log does not have is dropped; with no login list in the feature file every event counts
  as presence (a login), so the features work on any log (e.g. purchase + product_viewed).
- percent change (R vs P rate) of logins, value actions and active days:
  (R - P) / P, 0 when both are 0, capped to [-1, 3] (P = 0 and R > 0 gives the cap).
- days_since_last_event, days_since_last_value (tenure when there was none).
- tenure_days: from users.signup_at, else the first subscription start, else the first
  event before t.
Transforms: log1p of every count/rate metric; other non-negative metrics (recency, tenure,
ratios) are log1p'd when their skew on the training rows exceeds 4 (FCWD's fat-tail rule);
then standardization (mean/std of the training rows).

Model: LogisticRegression(penalty="l2", solver="lbfgs"), C chosen from
[0.001, 0.01, 0.1, 1, 10, 100] by log loss on t_0 after fitting on the training dates;
the reported validation metrics (ROC AUC, PR AUC = average precision, log loss) are that
model's on t_0 -- the same protocol as churnrisk's reported validation. Deterministic.

Held-out mode (--score-at T, used by bench/compare_quality.sh)
--------------------------------------------------------------
The events file must end before T (a truncated log). The peer builds its own panel:
t_k = T - H - 7k, k = 0..11, leaving out dates earlier than log start + 28 days
(--min-history-days); labels (inactivity definition) from [t_k, t_k + H), which ends by T.
Event types are those of the whole (truncated) log. C is chosen on t_0 after fitting on the
training dates exactly as above; then the transforms and the model are refitted on every
panel date with that C, and the population at T (an event in [T - active_days, T)) is scored
from events before T. Writes user_id,probability to --scores-out (and details to --json).

Usage:
  python bench/fcwd_peer.py --events E.csv [--users U.csv] [--subscriptions S.csv] \
      --as-of 2026-07-06 [--model churnrisk_model.json] [--json OUT.json]
  python bench/fcwd_peer.py --events E_before_T.csv [--users U.csv] [--features F.toml] \
      --score-at 2026-07-06 --horizon-days 28 --active-days 28 --scores-out S.csv [--json J]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# One BLAS thread: small problems, deterministic sums, and no oversubscription on a busy box.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

DAY_MS = 86_400_000
WIN = 28  # FCWD "month": metric window in days
LONG = 84  # "quarter" window for infrequent events, still expressed per 28 days
MIN_EXPOSURE = 7  # fewest days a rate is scaled by
CS = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]
SKEW_THRESHOLD = 4.0


# ----------------------------------------------------------------------------- loading
def to_ms(s: pd.Series) -> np.ndarray:
    """ISO-8601 text (offset or none = UTC, or a bare date) -> epoch ms; NaN when empty."""
    s = s.astype("string").str.strip()
    s = s.where(s != "", None)
    dt = pd.to_datetime(s, utc=True, format="ISO8601")
    out = np.full(len(s), np.nan)
    ok = dt.notna().to_numpy()
    out[ok] = dt[ok].astype("int64").to_numpy() // 1_000_000  # ns -> ms
    return out


def parse_date_ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


def fmt_date(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d")


RENEWAL_GAP_DAYS = 7  # FCWD's allowed gap: a subscription starting this soon after one ends renews it


def active_periods(s: pd.DataFrame) -> pd.DataFrame:
    """FCWD's active periods: a user's subscriptions joined while each starts within
    RENEWAL_GAP_DAYS of the latest end before it (a monthly plan's row per month is one
    period); columns user_id, start_ts, end_ts (NaN = running)."""
    s = s.sort_values(["user_id", "start_ts"], kind="stable").reset_index(drop=True)
    end = s["end_ts"].fillna(np.inf)
    reach = end.groupby(s["user_id"]).cummax().groupby(s["user_id"]).shift()  # NaN: first row
    new = reach.isna().to_numpy() | (s["start_ts"] > reach + RENEWAL_GAP_DAYS * DAY_MS).to_numpy()
    pid = np.cumsum(new)
    p = pd.DataFrame({"user_id": s["user_id"], "start_ts": s["start_ts"], "end": end, "pid": pid})
    g = p.groupby("pid", sort=True).agg(user_id=("user_id", "first"),
                                        start_ts=("start_ts", "min"), end_ts=("end", "max"))
    g["end_ts"] = g["end_ts"].replace(np.inf, np.nan)
    return g.reset_index(drop=True)


def running_at(periods: pd.DataFrame, t: int) -> pd.Series:
    """Which active periods run at t: start <= t < end (no end = running)."""
    return (periods["start_ts"] <= t) & (periods["end_ts"].isna() | (periods["end_ts"] > t))


class Data:
    def __init__(self, events: Path, users: Path | None, subs: Path | None):
        ev = pd.read_csv(events, dtype={"user_id": str, "timestamp": str, "event": str},
                         usecols=lambda c: c in ("user_id", "timestamp", "event"))
        ts = to_ms(ev["timestamp"])
        if np.isnan(ts).any():
            sys.exit(f"{events}: unparseable timestamps")
        ev["ts"] = ts.astype(np.int64)
        ev = ev.sort_values(["ts", "user_id"], kind="stable").reset_index(drop=True)

        ids = set(ev["user_id"].unique())
        self.signup: dict[str, float] = {}
        if users is not None:
            u = pd.read_csv(users, dtype=str, usecols=["user_id", "signup_at"])
            u = u.drop_duplicates("user_id", keep="first")
            u["signup_ts"] = to_ms(u["signup_at"])
            ids |= set(u["user_id"])
            self.signup = dict(zip(u["user_id"], u["signup_ts"]))
        self.subs = None
        if subs is not None:
            s = pd.read_csv(subs, dtype=str, usecols=["user_id", "start_date", "end_date"],
                            keep_default_na=False)
            s["start_ts"] = to_ms(s["start_date"])
            s["end_ts"] = to_ms(s["end_date"])  # NaN = running
            self.subs = active_periods(s)
            ids |= set(s["user_id"])
            first_start = s.groupby("user_id")["start_ts"].min()
            for uid, st in first_start.items():
                if np.isnan(self.signup.get(uid, np.nan)):
                    self.signup[uid] = st

        self.user_ids = np.array(sorted(ids), dtype=object)
        self.uidx = {u: i for i, u in enumerate(self.user_ids)}
        self.n_users = len(self.user_ids)
        self.ts = ev["ts"].to_numpy()
        self.uid = ev["user_id"].map(self.uidx).to_numpy(np.int64)
        self.event_names = ev["event"].to_numpy(dtype=object)
        self.min_ts = int(self.ts.min())
        self.max_ts = int(self.ts.max())
        self.day = self.ts // DAY_MS
        # first event of each user (ms); a value >= t means "none before t"
        self.first_ts = np.full(self.n_users, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(self.first_ts, self.uid, self.ts)
        self.signup_arr = np.array([self.signup.get(u, np.nan) for u in self.user_ids], float)

    def window(self, a: int, b: int) -> slice:
        """Rows with a <= ts < b."""
        return slice(int(np.searchsorted(self.ts, a, "left")), int(np.searchsorted(self.ts, b, "left")))


# ------------------------------------------------------------------ population & labels
def population_and_labels(d: Data, definition: str, t: int, horizon: int, active_days: int,
                          value_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """User indices (sorted by user_id) and churn labels at t."""
    until = t + horizon * DAY_MS
    if definition == "inactivity":
        w = d.window(t - active_days * DAY_MS, t)
        pop = np.unique(d.uid[w])
        f = d.window(t, until)
        retained = np.unique(d.uid[f][value_mask[f]])
    else:
        s = d.subs
        running = running_at(s, t)
        r = s[running]
        pop = np.unique(r["user_id"].map(d.uidx).to_numpy(np.int64))
        keep = r[r["end_ts"].isna() | (r["end_ts"] > until)]
        retained = np.unique(keep["user_id"].map(d.uidx).to_numpy(np.int64))
    churned = ~np.isin(pop, retained)
    return pop, churned


def population_at(d: Data, definition: str, T: int, active_days: int) -> np.ndarray:
    """User indices scored at T: an event in [T - active_days, T), or (subscription
    definition) an active period running at T."""
    if definition == "inactivity":
        return np.unique(d.uid[d.window(T - active_days * DAY_MS, T)])
    s = d.subs
    running = running_at(s, T)
    return np.unique(s["user_id"][running].map(d.uidx).to_numpy(np.int64))


# ----------------------------------------------------------------------------- features
def counts(d: Data, w: slice, ev_code: np.ndarray, n_types: int) -> np.ndarray:
    """users x event types counts over the rows of slice w."""
    key = d.uid[w] * n_types + ev_code[w]
    return np.bincount(key, minlength=d.n_users * n_types).reshape(d.n_users, n_types).astype(float)


def active_days(d: Data, w: slice) -> np.ndarray:
    pairs = np.unique(d.uid[w] * 1_000_000 + d.day[w])
    return np.bincount(pairs // 1_000_000, minlength=d.n_users).astype(float)


def pct_change(recent: np.ndarray, prior: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(prior > 0, (recent - prior) / prior, np.where(recent > 0, 3.0, 0.0))
    return np.clip(out, -1.0, 3.0)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 0.0)


def features(d: Data, t: int, pop: np.ndarray, types: list[str], ev_code: np.ndarray,
             value_types: list[str], login_types: list[str],
             activation_types: list[str]) -> tuple[pd.DataFrame, set[str]]:
    """Feature frame for the population at t (events with ts < t only); and the names of
    count/rate columns (always log1p'd)."""
    nt = len(types)
    recent = d.window(t - WIN * DAY_MS, t)
    prior = d.window(t - 2 * WIN * DAY_MS, t - WIN * DAY_MS)
    before = d.window(d.min_ts, t)  # everything strictly before t
    assert recent.stop == before.stop and d.ts[: before.stop].max(initial=-1) < t

    longw = d.window(t - LONG * DAY_MS, t)
    c_r = counts(d, recent, ev_code, nt)[pop]
    c_p = counts(d, prior, ev_code, nt)[pop]
    c_l = counts(d, longw, ev_code, nt)[pop]
    ad_r = active_days(d, recent)[pop]
    ad_p = active_days(d, prior)[pop]
    ad_l = active_days(d, longw)[pop]

    # observable start: signup (or first subscription start, or first event before t),
    # never before the log starts.
    first_ev = d.first_ts[pop].astype(float)
    first_ev[first_ev >= t] = np.nan
    signup = d.signup_arr[pop]
    start = np.where(np.isnan(signup), first_ev, signup)
    start = np.where(np.isnan(start), float(t), start)  # no history at all
    tenure = np.maximum(t - start, 0.0) / DAY_MS
    obs_start = np.maximum(start, float(d.min_ts))
    exp_r = np.clip((t - obs_start) / DAY_MS, 0, WIN)
    exp_p = np.clip((t - WIN * DAY_MS - obs_start) / DAY_MS, 0, WIN)
    exp_l = np.clip((t - obs_start) / DAY_MS, 0, LONG)
    scale_r = WIN / np.maximum(exp_r, MIN_EXPOSURE)
    scale_l = WIN / np.maximum(exp_l, MIN_EXPOSURE)
    scale_p = WIN / np.maximum(exp_p, MIN_EXPOSURE)
    no_prior = exp_p < MIN_EXPOSURE  # too new for a prior month: assume no change

    rate_r = c_r * scale_r[:, None]
    rate_p = c_p * scale_p[:, None]
    rate_p[no_prior] = rate_r[no_prior]
    rate_l = c_l * scale_l[:, None]
    adr = ad_r * scale_r
    adp = np.where(no_prior, adr, ad_p * scale_p)

    def col(mat, names):
        idx = [types.index(n) for n in names if n in types]
        return mat[:, idx].sum(axis=1) if idx else np.zeros(len(mat))

    f: dict[str, np.ndarray] = {}
    rate_cols: set[str] = set()
    for j, e in enumerate(types):
        f[f"n_{e}"] = rate_r[:, j]
        f[f"n_prior_{e}"] = rate_p[:, j]
        f[f"n84_{e}"] = rate_l[:, j]
        rate_cols |= {f"n_{e}", f"n_prior_{e}", f"n84_{e}"}
    logins_r = col(rate_r, login_types) if login_types else rate_r.sum(axis=1)
    logins_p = col(rate_p, login_types) if login_types else rate_p.sum(axis=1)
    value_r, value_p = col(rate_r, value_types), col(rate_p, value_types)
    total_r, total_p = rate_r.sum(axis=1), rate_p.sum(axis=1)
    f.update(total_events=total_r, total_events_prior=total_p, value_actions=value_r,
             value_actions_prior=value_p, logins=logins_r, logins_prior=logins_p,
             active_days=adr, active_days_prior=adp, value_actions84=col(rate_l, value_types),
             active_days84=ad_l * scale_l)
    rate_cols |= {"total_events", "total_events_prior", "value_actions", "value_actions_prior",
                  "logins", "logins_prior", "active_days", "active_days_prior",
                  "value_actions84", "active_days84"}

    # ratio metrics (raw counts of the recent window); a ratio whose numerator or
    # denominator events the log does not have (e.g. no report_created in a purchase log)
    # is dropped; with no login list every event counts as presence
    raw_login = col(c_r, login_types) if login_types else c_r.sum(axis=1)
    has = lambda names: any(n in types for n in names)  # noqa: E731
    has_login = has(login_types) if login_types else True
    if has(["report_shared"]) and has(["report_created"]):
        f["shares_per_report"] = ratio(col(c_r, ["report_shared"]), col(c_r, ["report_created"]))
    for name, num in (("value_per_login", value_types), ("views_per_login", ["page_view"]),
                      ("help_per_login", ["help_viewed"]),
                      ("friction_per_login", ["error_shown", "import_failed"])):
        if has_login and has(num):
            f[name] = ratio(col(c_r, num), raw_login)
    f["events_per_active_day"] = ratio(c_r.sum(axis=1), ad_r)

    # percent change, recent vs prior month
    f["logins_change"] = pct_change(logins_r, logins_p)
    f["value_change"] = pct_change(value_r, value_p)
    f["active_days_change"] = pct_change(adr, adp)

    # recency (days) and tenure
    b = before
    last_any = np.full(d.n_users, -1, dtype=np.int64)
    np.maximum.at(last_any, d.uid[b], d.ts[b])
    vm = np.isin(d.event_names[b], value_types)
    last_val = np.full(d.n_users, -1, dtype=np.int64)
    np.maximum.at(last_val, d.uid[b][vm], d.ts[b][vm])
    la, lv = last_any[pop].astype(float), last_val[pop].astype(float)
    f["days_since_last_event"] = np.where(la >= 0, (t - la) / DAY_MS, tenure)
    f["days_since_last_value"] = np.where(lv >= 0, (t - lv) / DAY_MS, tenure)
    f["tenure_days"] = tenure
    am = np.isin(d.event_names[b], activation_types)
    ever = np.zeros(d.n_users)
    ever[d.uid[b][am]] = 1.0
    f["activated"] = ever[pop]
    return pd.DataFrame(f), rate_cols


# ------------------------------------------------------------------------------- model
class Prep:
    """log1p of rates and of fat-tailed non-negative metrics, then standardization;
    everything learned from the training rows only."""

    def __init__(self, x: pd.DataFrame, rate_cols: set[str]):
        self.cols = list(x.columns)
        self.log_cols = []
        for c in self.cols:
            v = x[c]
            if c in rate_cols or (v.min() >= 0 and v.skew() > SKEW_THRESHOLD):
                self.log_cols.append(c)
        z = self._log(x)
        self.mean = z.mean()
        self.std = z.std(ddof=0).replace(0.0, 1.0)

    def _log(self, x: pd.DataFrame) -> pd.DataFrame:
        z = x[self.cols].copy()
        for c in self.log_cols:
            z[c] = np.log1p(np.maximum(z[c], 0.0))
        return z

    def __call__(self, x: pd.DataFrame) -> np.ndarray:
        return ((self._log(x) - self.mean) / self.std).to_numpy()


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    return {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p)),
            "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))}


def logreg(C: float) -> LogisticRegression:
    return LogisticRegression(penalty="l2", C=C, solver="lbfgs", max_iter=10_000, tol=1e-8)


def choose_c(z_tr: np.ndarray, y_tr: np.ndarray, z_va: np.ndarray, y_va: np.ndarray,
             say=lambda *m: None) -> tuple[float, dict, LogisticRegression, list]:
    """Fit on the training rows for each C in CS; keep the best validation log loss
    (the first on a tie). Returns (C, validation metrics, fitted model, trials)."""
    trials, best = [], None
    for C in CS:
        lr = logreg(C).fit(z_tr, y_tr)
        mt = metrics(y_va, lr.predict_proba(z_va)[:, 1])
        trials.append({"C": C, **mt})
        say(f"  C={C:<7g} val log loss {mt['log_loss']:.4f}  ROC AUC {mt['roc_auc']:.4f}")
        if best is None or mt["log_loss"] < best[1]["log_loss"]:
            best = (C, mt, lr)
    return best[0], best[1], best[2], trials


def holdout_dates(T: int, horizon_days: int, min_ts: int, n: int = 12, step_days: int = 7,
                  min_history_days: int = 28) -> list[int]:
    """Panel dates of the held-out protocol: t_k = T - H - step*k (k = 0..n-1), leaving out
    dates earlier than the log start + min_history_days. Every label window [t_k, t_k + H)
    ends by T, so a log truncated at T labels them all."""
    out = []
    for k in range(n):
        t = T - horizon_days * DAY_MS - k * step_days * DAY_MS
        if t >= min_ts + min_history_days * DAY_MS:
            out.append(t)
    return out


def train_dates(panel_as_of: list[int], horizon_days: int) -> list[int]:
    """Indices of the training dates: the later panel dates whose label window ends by t_0,
    or all of them when fewer than two do (panel_as_of[0] is t_0)."""
    t0 = panel_as_of[0]
    purged = [i for i in range(1, len(panel_as_of))
              if panel_as_of[i] + horizon_days * DAY_MS <= t0]
    return purged if len(purged) >= 2 else list(range(1, len(panel_as_of)))


# --------------------------------------------------------------------- held-out mode
def read_spec(path: Path) -> tuple[list[str], list[str], list[str]]:
    """value, login and activation event lists of a churnrisk feature file."""
    spec = tomllib.loads(path.read_text())
    value_types = list(spec["events"]["value"])
    login_types = list(spec["events"].get("login", []))
    activation_types = list(spec["events"].get("activation", [])) or value_types
    return value_types, login_types, activation_types


def event_codes(d: Data, before: int) -> tuple[list[str], np.ndarray]:
    """Event types seen before `before` (most frequent first) and each event's code."""
    vc = pd.Series(d.event_names[d.window(d.min_ts, before)]).value_counts()
    types = sorted(vc.index, key=lambda e: (-vc[e], e))
    code = {e: i for i, e in enumerate(types)}
    ev_code = np.array([code.get(e, 0) for e in d.event_names], dtype=np.int64)
    return types, ev_code


def score_at(a) -> int:
    """Held-out mode. The events file must hold only events before T (the caller truncates
    it): panel dates t_k = T - H - 7k, k = 0..11 (dates earlier than log start +
    --min-history-days left out), labels from [t_k, t_k + H) which ends by T; C chosen on
    t_0 after fitting on the training dates (as in the validation mode), then Prep and the
    model refitted on every panel date; the population at T (an event in [T - A, T), or with
    --subscriptions an active period running at T: the table as known at T) scored with
    features from events before T."""
    say = (lambda *m: None) if a.quiet else (lambda *m: print(*m, file=sys.stderr))
    value_types, login_types, activation_types = read_spec(a.features)
    d = Data(a.events, a.users, a.subscriptions)
    definition = "subscription" if a.subscriptions else "inactivity"
    T = parse_date_ms(a.score_at)
    if d.max_ts >= T:
        sys.exit(f"{a.events}: has events at or after {a.score_at}; truncate the log at T first")
    value_mask = np.isin(d.event_names, value_types)
    dates = holdout_dates(T, a.horizon_days, d.min_ts, a.panel_dates, a.panel_step_days,
                          a.min_history_days)
    types, ev_code = event_codes(d, T)
    panel, rate_cols = [], set()
    for t in dates:
        pop, y = population_and_labels(d, definition, t, a.horizon_days, a.active_days,
                                       value_mask)
        if len(pop) == 0:
            continue
        x, rate_cols = features(d, t, pop, types, ev_code, value_types, login_types,
                                activation_types)
        panel.append({"as_of": t, "x": x, "y": y.astype(int)})
    if len(panel) < 2:
        sys.exit(f"held-out panel has {len(panel)} usable date(s); need 2")
    train_idx = train_dates([p["as_of"] for p in panel], a.horizon_days)
    x_tr = pd.concat([panel[i]["x"] for i in train_idx], ignore_index=True)
    y_tr = np.concatenate([panel[i]["y"] for i in train_idx])
    x_va, y_va = panel[0]["x"], panel[0]["y"]
    if len(np.unique(y_tr)) < 2 or len(np.unique(y_va)) < 2:
        sys.exit("a panel split has a single class")
    prep = Prep(x_tr, rate_cols)
    C, val, _, trials = choose_c(prep(x_tr), y_tr, prep(x_va), y_va, say)
    # refit on every panel date with the chosen C
    x_all = pd.concat([p["x"] for p in panel], ignore_index=True)
    y_all = np.concatenate([p["y"] for p in panel])
    prep = Prep(x_all, rate_cols)
    lr = logreg(C).fit(prep(x_all), y_all)
    # score the population at T
    pop = population_at(d, definition, T, a.active_days)
    x_T, _ = features(d, T, pop, types, ev_code, value_types, login_types, activation_types)
    p_T = lr.predict_proba(prep(x_T))[:, 1]
    pd.DataFrame({"user_id": d.user_ids[pop], "probability": p_T}).to_csv(
        a.scores_out, index=False, float_format="%.6f")
    out = {
        "score_at": a.score_at, "horizon_days": a.horizon_days, "active_days": a.active_days,
        "panel": [{"as_of": fmt_date(p["as_of"]), "rows": int(len(p["y"])),
                   "churned": int(p["y"].sum()),
                   "role": "validation" if i == 0 else ("train" if i in train_idx else "purged")}
                  for i, p in enumerate(panel)],
        "C": C, "validation": val, "c_search": trials, "n_features": len(prep.cols),
        "refit_rows": int(len(y_all)), "scored": int(len(pop)),
        "coefficients": dict(sorted(zip(prep.cols, map(float, lr.coef_[0])),
                                    key=lambda kv: -abs(kv[1]))),
    }
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
    say(f"peer held-out: C={C}, {len(prep.cols)} features, refit on {len(y_all)} rows of "
        f"{len(panel)} dates ({fmt_date(panel[-1]['as_of'])}..{fmt_date(panel[0]['as_of'])}), "
        f"scored {len(pop)} users at {a.score_at}")
    return 0


# -------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", required=True, type=Path)
    ap.add_argument("--users", type=Path)
    ap.add_argument("--subscriptions", type=Path)
    ap.add_argument("--features", type=Path,
                    default=Path(__file__).resolve().parent.parent / "features" / "default.toml",
                    help="churnrisk feature file (value/login events, panel history)")
    ap.add_argument("--as-of", help="as-of date T of the churnrisk-mirroring validation mode")
    ap.add_argument("--horizon-days", type=int, default=28)
    ap.add_argument("--active-days", type=int, default=28)
    ap.add_argument("--panel-dates", type=int, default=12)
    ap.add_argument("--panel-step-days", type=int, default=7)
    ap.add_argument("--model", type=Path, help="churnrisk model JSON whose panel to check against")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--score-at", metavar="T",
                    help="held-out mode: build the peer's own panel t_k = T - H - 7k from a log "
                         "that ends before T, fit, and score the population at T")
    ap.add_argument("--scores-out", type=Path, help="held-out mode: write user_id,probability here")
    ap.add_argument("--min-history-days", type=int, default=28,
                    help="held-out mode: leave out panel dates earlier than log start + this")
    a = ap.parse_args()
    if a.score_at:
        if not a.scores_out:
            ap.error("--score-at needs --scores-out")
        return score_at(a)
    if not a.as_of:
        ap.error("--as-of is required (or --score-at for the held-out mode)")

    spec = tomllib.loads(a.features.read_text())
    value_types = list(spec["events"]["value"])
    login_types = list(spec["events"].get("login", []))
    activation_types = list(spec["events"].get("activation", [])) or value_types
    win = spec.get("windows", {})
    history = int(win.get("recent_days", 14)) + int(win.get("prior_days", 28))
    definition = "subscription" if a.subscriptions else "inactivity"
    say = (lambda *m: None) if a.quiet else (lambda *m: print(*m, file=sys.stderr))

    d = Data(a.events, a.users, a.subscriptions)
    T = parse_date_ms(a.as_of)
    H = a.horizon_days * DAY_MS
    value_mask = np.isin(d.event_names, value_types)

    # as churnrisk: a subscription label also waits out the renewal gap after the horizon
    settle = H + (RENEWAL_GAP_DAYS * DAY_MS if definition == "subscription" else 0)
    dates = []
    for k in range(a.panel_dates):
        t = T - settle - k * a.panel_step_days * DAY_MS
        if t < d.min_ts + history * DAY_MS:
            break
        dates.append(t)
    if not dates:
        sys.exit("no panel date fits in the log")
    t0 = dates[0]
    # event types: every type seen before the validation date, most frequent first
    before_t0 = d.window(d.min_ts, t0)
    vc = pd.Series(d.event_names[before_t0]).value_counts()
    types = sorted(vc.index, key=lambda e: (-vc[e], e))
    code = {e: i for i, e in enumerate(types)}
    ev_code = np.array([code.get(e, -1) for e in d.event_names], dtype=np.int64)
    # events of types unseen before t0 are folded into no column (only totals would
    # change); keep them out of the bincount
    if (ev_code < 0).any():
        keep = ev_code >= 0
        say(f"note: {int((~keep).sum())} events of types first seen after t_0 ignored in counts")
        ev_code = np.where(keep, ev_code, 0)  # only reachable at ts >= t0 > every t used

    panel = []
    rate_cols: set[str] = set()
    for t in dates:
        pop, y = population_and_labels(d, definition, t, a.horizon_days, a.active_days, value_mask)
        if len(pop) == 0:
            continue
        x, rate_cols = features(d, t, pop, types, ev_code, value_types, login_types,
                                activation_types)
        panel.append({"as_of": t, "x": x, "y": y.astype(int), "users": d.user_ids[pop]})
    t0 = panel[0]["as_of"]
    purged = [i for i in range(1, len(panel)) if panel[i]["as_of"] + settle <= t0]
    train_idx = purged if len(purged) >= 2 else list(range(1, len(panel)))
    if not train_idx:
        sys.exit("only one panel date: nothing to train on")

    # -- panel check against churnrisk
    mismatches = []
    if a.model:
        m = json.loads(a.model.read_text())
        theirs = {p["as_of"]: (p["rows"], p["churned"], p.get("role")) for p in m["training"]["panel"]}
        ours = {}
        for i, p in enumerate(panel):
            role = "validation" if i == 0 else ("train" if i in train_idx else "purged")
            ours[fmt_date(p["as_of"])] = (len(p["y"]), int(p["y"].sum()), role)
        for day in sorted(set(theirs) | set(ours)):
            if theirs.get(day) != ours.get(day):
                mismatches.append((day, ours.get(day), theirs.get(day)))
                print(f"WARNING: panel {day}: peer (rows, churned, role) = {ours.get(day)}, "
                      f"churnrisk = {theirs.get(day)}", file=sys.stderr)
        if not mismatches:
            say(f"panel matches churnrisk: {len(panel)} dates, "
                f"{sum(len(p['y']) for p in panel)} rows")

    # -- fit on the training dates, choose C on t_0
    x_tr = pd.concat([panel[i]["x"] for i in train_idx], ignore_index=True)
    y_tr = np.concatenate([panel[i]["y"] for i in train_idx])
    x_va, y_va = panel[0]["x"], panel[0]["y"]
    prep = Prep(x_tr, rate_cols)
    z_tr, z_va = prep(x_tr), prep(x_va)
    C, val, lr, trials = choose_c(z_tr, y_tr, z_va, y_va, say)
    # recency-only reference with the peer's own transform
    j = prep.cols.index("days_since_last_value")
    rec = LogisticRegression(C=1.0, max_iter=10_000).fit(z_tr[:, [j]], y_tr)
    rec_m = metrics(y_va, rec.predict_proba(z_va[:, [j]])[:, 1])

    out = {
        "definition": definition, "as_of": a.as_of, "validation_date": fmt_date(t0),
        "train_dates": [fmt_date(panel[i]["as_of"]) for i in train_idx],
        "train_rows": int(len(y_tr)), "validation_rows": int(len(y_va)),
        "validation_churned": int(y_va.sum()), "C": C, "validation": val,
        "recency_only": rec_m, "c_search": trials, "n_features": len(prep.cols),
        "log_scaled": prep.log_cols, "panel_mismatches": [list(map(str, mm)) for mm in mismatches],
        "coefficients": dict(sorted(zip(prep.cols, map(float, lr.coef_[0])),
                                    key=lambda kv: -abs(kv[1]))),
    }
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
    say(f"peer ({definition}): C={C}, {len(prep.cols)} features, train {len(y_tr)} rows on "
        f"{len(train_idx)} dates, validation {fmt_date(t0)} ({len(y_va)} rows, {int(y_va.sum())} churned)")
    print(f"ROC AUC {val['roc_auc']:.4f}  PR AUC {val['pr_auc']:.4f}  log loss {val['log_loss']:.4f}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
