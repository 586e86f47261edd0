#!/usr/bin/env python3
"""Independent simulator of a social-network subscription product (written by a helper
from the description of the simulation in "Fighting Churn with Data", not from its code
and not from churnrisk's generator: its churn is not a function of churnrisk's features).
Used by bench/compare_quality.sh (scenario `social`).

Mechanism:
  * N users sign up uniformly over the first SIGNUP_DAYS days; each has a monthly
    subscription renewing on the signup day-of-month.
  * Each user has latent monthly rates for 9 event types, drawn from a correlated
    multivariate log-normal; the log-rates drift by a small random walk at every renewal.
  * Each day a user is subscribed, counts per event type ~ Poisson(monthly rate / 30.44),
    timestamps uniform within the day (after the signup time on the signup day).
  * At every renewal the user churns with probability sigmoid(b0 - u), u = utility of the
    rates of the month just ended: + engagement (post, like, comment, reply, message,
    newfriend), - adview per post, - unfriend, - dislike. Churned users emit nothing more.
Output: OUT/events.csv (user_id,timestamp,event sorted by timestamp), OUT/users.csv
(user_id,signup_at), OUT/subscriptions.csv (user_id,start_date,end_date: one row per
billing month, as FCWD's simulator and billing exports write them; a retained user's last
row ends after the log, on its next renewal date), OUT/truth.csv (diagnostics only),
OUT/features.toml.

  python bench/socialsim.py --seed 1 --out DIR [--users 12000 --start 2025-01-06 --days 290]
"""
import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

EVENTS = ["post", "like", "comment", "message", "reply", "newfriend", "unfriend",
          "adview", "dislike"]
# mean monthly rates (means of the log-normal, not medians)
MEAN = np.array([4.0, 16.0, 4.5, 7.0, 3.0, 1.2, 0.25, 13.0, 1.5])
# log-scale standard deviations (user heterogeneity)
SD = np.array([0.9, 1.0, 0.9, 1.0, 0.9, 0.8, 0.8, 0.7, 0.9])
# utility weights on standardized log-rates (and on log adview per post)
W = {"post": 0.35, "like": 0.30, "comment": 0.30, "reply": 0.25, "message": 0.20,
     "newfriend": 0.25, "unfriend": -0.30, "dislike": -0.30, "adview_per_post": -0.35}
TARGET_MONTHLY_CHURN = 0.095
DAY_S = 86400
MONTH_D = 30.44


def corr_matrix(rng):
    """Engagement types share a strong common factor, 'negative' ones a weaker one."""
    k = len(EVENTS)
    eng = np.array([1.0, 1.0, 1.0, 0.8, 1.0, 0.7, 0.2, 0.5, 0.4])   # loading on activity
    neg = np.array([0.0, 0.0, 0.1, 0.0, 0.1, 0.0, 0.6, 0.2, 0.6])   # loading on grumpiness
    L = np.column_stack([eng * 0.75, neg * 0.6])
    C = L @ L.T
    np.fill_diagonal(C, 1.0)
    # tiny random perturbation so each seed differs a little, kept positive definite
    E = rng.normal(0, 0.03, (k, k))
    C = C + (E + E.T) / 2
    np.fill_diagonal(C, 1.0)
    w, V = np.linalg.eigh(C)
    C = V @ np.diag(np.clip(w, 1e-3, None)) @ V.T
    d = np.sqrt(np.diag(C))
    return C / np.outer(d, d)


def add_months(dates: pd.DatetimeIndex, k: int) -> np.ndarray:
    """Same day-of-month k months later (clipped to the month's end), as day numbers."""
    y, m, d = dates.year.to_numpy(), dates.month.to_numpy(), dates.day.to_numpy()
    mm = m - 1 + k
    y2, m2 = y + mm // 12, mm % 12 + 1
    first = pd.to_datetime(pd.DataFrame({"year": y2, "month": m2, "day": 1}))
    last_day = first.dt.days_in_month.to_numpy()
    d2 = np.minimum(d, last_day)
    return pd.to_datetime(pd.DataFrame({"year": y2, "month": m2, "day": d2})).to_numpy()


def utility(logr: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """logr: (..., k) log monthly rates -> utility (unstandardized)."""
    z = (logr - mu) / sd
    ix = {e: i for i, e in enumerate(EVENTS)}
    u = np.zeros(logr.shape[:-1])
    for e, w in W.items():
        if e == "adview_per_post":
            a = logr[..., ix["adview"]] - logr[..., ix["post"]]
            a_sd = np.sqrt(sd[ix["adview"]] ** 2 + sd[ix["post"]] ** 2)
            u += w * (a - (mu[ix["adview"]] - mu[ix["post"]])) / a_sd
        else:
            u += w * z[..., ix[e]]
    return u


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--users", type=int, default=12000)
    ap.add_argument("--start", default="2025-01-06")
    ap.add_argument("--days", type=int, default=290)
    ap.add_argument("--signup-days", type=int, default=182)
    ap.add_argument("--drift", type=float, default=0.15, help="log-rate sd per month")
    a = ap.parse_args()
    t0 = time.time()
    rng = np.random.default_rng(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    N, D, k = a.users, a.days, len(EVENTS)
    start = pd.Timestamp(a.start)

    # ---- users and latent profiles
    C = corr_matrix(rng)
    cov = C * np.outer(SD, SD)
    mu = np.log(MEAN) - SD ** 2 / 2
    base = rng.multivariate_normal(mu, cov, size=N)              # (N, k) log monthly rates
    signup_s = np.sort(rng.integers(0, a.signup_days * DAY_S, N))
    signup_day = signup_s // DAY_S
    signup_dates = pd.DatetimeIndex(start + pd.to_timedelta(signup_day, unit="D"))

    # renewal days (days since start) for month k = 1..M
    M = int(np.ceil(D / 28)) + 1
    ren = np.empty((N, M + 1), dtype=np.int64)
    ren[:, 0] = signup_day
    start64 = np.datetime64(start.date())
    for m in range(1, M + 1):
        ren[:, m] = (add_months(signup_dates, m) - start64).astype("timedelta64[D]").astype(int)

    # per-month log rates: base + random walk (common drift per user + per-type noise)
    steps = (rng.normal(0, a.drift * 0.7, (N, M, 1))
             + rng.normal(0, a.drift * 0.7, (N, M, k)))
    steps[:, 0, :] = 0.0
    logr = base[:, None, :] + np.cumsum(steps, axis=1)          # (N, M, k) month index 0..M-1

    # churn: at renewal m (1..M-1) using month m-1's rates
    u = utility(logr, mu, SD)
    u = u / u[:, 0].std()                                       # sd 1 across users at start
    scale = 1.6
    # b0 so that the mean churn prob at month 0 is the target
    lo, hi = -10.0, 5.0
    for _ in range(60):
        b0 = (lo + hi) / 2
        pm = (1 / (1 + np.exp(-(b0 - scale * u[:, 0])))).mean()
        lo, hi = (b0, hi) if pm < TARGET_MONTHLY_CHURN else (lo, b0)
    pchurn = 1 / (1 + np.exp(-(b0 - scale * u)))               # (N, M)
    draws = rng.random((N, M)) < pchurn
    end_day = np.full(N, D, dtype=np.int64)
    churn_month = np.full(N, -1)
    for m in range(1, M):
        due = (churn_month < 0) & draws[:, m - 1] & (ren[:, m] < D)
        churn_month[due] = m
        end_day[due] = ren[due, m]

    # ---- events, one type at a time
    days = np.arange(D)
    # month index of each (user, day): number of renewals passed
    midx = np.zeros((N, D), dtype=np.int16)
    for m in range(1, M + 1):
        midx += (days[None, :] >= ren[:, m:m + 1])
    midx = np.minimum(midx, M - 1)
    active = (days[None, :] >= signup_day[:, None]) & (days[None, :] < end_day[:, None])
    rows_u, rows_t, rows_e = [], [], []
    for j in range(k):
        lam = np.exp(np.take_along_axis(logr[:, :, j], midx.astype(np.int64), axis=1)) / MONTH_D
        lam[~active] = 0.0
        cnt = rng.poisson(lam)
        uu, dd = np.nonzero(cnt)
        c = cnt[uu, dd]
        uu, dd = np.repeat(uu, c), np.repeat(dd, c)
        # seconds within the day; after the signup time on the signup day
        lo_s = np.where(dd == signup_day[uu], signup_s[uu] - signup_day[uu] * DAY_S, 0)
        sec = lo_s + (rng.random(len(uu)) * (DAY_S - lo_s)).astype(np.int64)
        rows_u.append(uu)
        rows_t.append(dd * DAY_S + sec)
        rows_e.append(np.full(len(uu), j, dtype=np.int8))
    uu = np.concatenate(rows_u)
    ts = np.concatenate(rows_t)
    ee = np.concatenate(rows_e)
    order = np.lexsort((ee, uu, ts))
    uu, ts, ee = uu[order], ts[order], ee[order]

    base_s = start64.astype("datetime64[s]")
    iso = np.datetime_as_string(base_s + ts.astype("timedelta64[s]"), unit="s")
    uid = np.char.add("u", np.char.zfill(np.arange(N).astype(str), 5))
    ev = pd.DataFrame({"user_id": uid[uu], "timestamp": np.char.add(iso, "Z"),
                       "event": np.array(EVENTS)[ee]})
    ev.to_csv(a.out / "events.csv", index=False)
    su = np.datetime_as_string(base_s + signup_s.astype("timedelta64[s]"), unit="s")
    pd.DataFrame({"user_id": uid, "signup_at": np.char.add(su, "Z")}).to_csv(
        a.out / "users.csv", index=False)
    # ground truth for diagnostics only (not given to any method): subscription end
    end_iso = np.where(churn_month > 0, np.datetime_as_string(
        start64 + end_day.astype("timedelta64[D]"), unit="D"), "")
    pd.DataFrame({"user_id": uid, "churned_on": end_iso}).to_csv(a.out / "truth.csv",
                                                                 index=False)
    # one subscription row per billing month: [ren[m], ren[m + 1]) while it starts before
    # the user's end (a churn ends the last row on its renewal date) and before the log's end
    live = (ren[:, :M] < np.minimum(end_day, D)[:, None])
    su_u, su_m = np.nonzero(live)
    as_date = lambda days: np.datetime_as_string(start64 + days.astype("timedelta64[D]"), unit="D")
    pd.DataFrame({"user_id": uid[su_u], "start_date": as_date(ren[su_u, su_m]),
                  "end_date": as_date(ren[su_u, su_m + 1])}).to_csv(
        a.out / "subscriptions.csv", index=False)
    (a.out / "features.toml").write_text(
        "# social-network subscription product (independent simulator)\n"
        "[events]\n"
        "# login left empty: any event marks presence\n"
        'value = ["post", "like", "comment", "message", "reply"]\n')

    # ---- summary
    renewals_seen = sum(((ren[:, m] < D) & ((churn_month < 0) | (churn_month >= m))).sum()
                        for m in range(1, M))
    churned = (churn_month > 0).sum()
    print(f"seed {a.seed}: {N} users, {len(ev)} events, {start.date()} .. "
          f"{(start + pd.Timedelta(days=D)).date()} (exclusive); churned {churned} "
          f"({churned / N:.1%}); churn per renewal {churned / max(renewals_seen, 1):.2%}; "
          f"b0={b0:.2f}; zero-event users {N - len(np.unique(uu))}; {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
