#!/usr/bin/env python3
"""Held-out quality protocol for bench/compare_quality.sh: truncation, baselines, truth,
metrics and the results table. The shell script only orchestrates; everything that decides
a number lives here (and, for the peer's own model, in bench/fcwd_peer.py, whose loader,
labels, panel dates and C search this module reuses, so every Python method sees the same
panel).

Subcommands
-----------
truncate   --events FULL --as-of T --out events_T.csv
    Rows with timestamp < T, header and text kept as they are.
baselines  --events events_T.csv [--users U] --features F --as-of T --horizon-days H
           --active-days A --out-dir DIR
    On the peer's held-out panel (t_k = T - H - 7k, k < 12, dates earlier than log start +
    28 days left out; labels from the truncated log): "recency" = logistic regression on
    log1p(days since the last value action, tenure when none), C = 1, fitted on every
    panel date; "rft" = logistic regression on log1p(recency), log1p(lifetime value actions),
    log1p(tenure days), standardized, C chosen from fcwd_peer.CS by log loss on t_0 after
    fitting on the training dates, then refitted on every date. Both score the population at
    T (an event in [T - A, T)) -> DIR/recency.csv, DIR/rft.csv (user_id,probability) and
    DIR/baselines.json. "bgnbd" = the BG/NBD model alone (Fader, Hardie & Lee 2005), the
    standard model of purchase logs: r, alpha, a, b by maximum likelihood (Nelder-Mead on
    their logs, scipy) over every user's value actions before T, a day with several being
    one transaction; P(no value action in [T, T + H)) = 1 - P(alive) * (1 - ((alpha + age) /
    (alpha + age + H))^(r + x)) -> DIR/bgnbd.csv. A user without a value action is counted
    from signup (else the first event) with no repeat, as churnrisk's feature does. It is
    written independently of churnrisk's Rust fit (src/features/bgnbd.rs), from the paper.
evaluate   --events FULL --features F --as-of T --horizon-days H --active-days A
           --method NAME=scores.csv ... [--reference NAME] [--model model.json]
           [--peer-json J] [--rft-json J] --label K=V ... --json OUT.json
    Truth from the full log: population = users with an event in [T - A, T); churned = no
    value action ([events] value of F) in [T, T + H). Each method's scores (column
    `probability` or `churn_probability`) are matched by user_id; the metrics are computed
    on the users of the population that every method scored. The reference method's
    (churnrisk's) set is compared with the population: the mismatch is the number of
    users in one and not the other. Metrics: ROC AUC, Brier score, top-decile lift (churn
    rate among the 10% highest probabilities / overall churn rate; ties at the cut count
    pro rata, so the order inside a tie does not matter). Paired differences: the
    reference's AUC and Brier minus each other method's, with a 95% bootstrap interval
    (1,000 resamples of the users, a fixed seed): an interval that holds 0 is a tie.
table      OUT.json ... --md results.md
    The markdown table: one row per run, then a mean row per scenario and horizon.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fcwd_peer as peer  # noqa: E402

DAY_MS = peer.DAY_MS
METHODS = ["churnrisk", "peer", "recency", "rft", "bgnbd"]


# -------------------------------------------------------------------------- lifetimes
LIFETIMES_CSV = "lifetimes/datasets/example_transactions.csv"
LIFETIMES_SHA256 = "dd4a7c6ba666137dda53fb861c6bc502acdf37c89bf5bdd1101ecc9c0cfeaa59"


def cmd_lifetimes(a) -> int:
    """A log nobody here wrote: the lifetimes package's example transactions (5,000
    customers' purchase dates in 2014, simulated by its authors from a BG/NBD model) as a
    churnrisk event log (one `purchase` per row, at midnight UTC) and its feature file."""
    import hashlib
    import zipfile

    with zipfile.ZipFile(a.wheel) as z:
        raw = z.read(LIFETIMES_CSV)
    got = hashlib.sha256(raw).hexdigest()
    if got != LIFETIMES_SHA256:
        sys.exit(f"{a.wheel}:{LIFETIMES_CSV}: SHA-256 {got}, expected {LIFETIMES_SHA256}")
    import io
    tx = pd.read_csv(io.BytesIO(raw), dtype={"id": str, "date": str})
    a.out.mkdir(parents=True, exist_ok=True)
    ev = pd.DataFrame({
        "user_id": "c" + tx["id"],
        "timestamp": pd.to_datetime(tx["date"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "event": "purchase",
    }).sort_values(["timestamp", "user_id"], kind="stable")
    ev.to_csv(a.out / "events.csv", index=False)
    (a.out / "features.toml").write_text(
        "# The lifetimes example log: a purchase is the only event and the value action.\n"
        "[events]\nvalue = [\"purchase\"]\n")
    print(f"{len(ev)} purchases of {ev['user_id'].nunique()} customers, "
          f"{ev['timestamp'].min()[:10]} to {ev['timestamp'].max()[:10]}")
    return 0


# --------------------------------------------------------------------------- truncate
def cmd_truncate(a) -> int:
    ev = pd.read_csv(a.events, dtype=str, keep_default_na=False)
    ts = peer.to_ms(ev["timestamp"])
    if np.isnan(ts).any():
        sys.exit(f"{a.events}: unparseable timestamps")
    T = peer.parse_date_ms(a.as_of)
    keep = ts < T
    ev[keep].to_csv(a.out, index=False)
    print(f"truncated {a.events.name} at {a.as_of}: {int(keep.sum())} of {len(ev)} events kept",
          file=sys.stderr)
    if a.subscriptions:  # the table as known at T: rows started by T (with their billed end)
        s = pd.read_csv(a.subscriptions, dtype=str, keep_default_na=False)
        keep = peer.to_ms(s["start_date"]) <= T
        s[keep].to_csv(a.subscriptions_out, index=False)
        print(f"truncated {a.subscriptions.name} at {a.as_of}: {int(keep.sum())} of {len(s)} "
              f"rows kept", file=sys.stderr)
    return 0


# -------------------------------------------------------------------------- baselines
def rft_features(d: peer.Data, t: int, pop: np.ndarray, value_mask: np.ndarray) -> np.ndarray:
    """days since the last value action (tenure when none), lifetime value actions and
    tenure days at t, from events before t; columns in that order, not yet transformed."""
    b = d.window(d.min_ts, t)
    vm = value_mask[b]
    uid_v, ts_v = d.uid[b][vm], d.ts[b][vm]
    last_val = np.full(d.n_users, -1, dtype=np.int64)
    np.maximum.at(last_val, uid_v, ts_v)
    n_val = np.bincount(uid_v, minlength=d.n_users).astype(float)
    # tenure exactly as the peer: signup, else the first event before t
    first_ev = d.first_ts[pop].astype(float)
    first_ev[first_ev >= t] = np.nan
    signup = d.signup_arr[pop]
    start = np.where(np.isnan(signup), first_ev, signup)
    start = np.where(np.isnan(start), float(t), start)
    tenure = np.maximum(t - start, 0.0) / DAY_MS
    lv = last_val[pop].astype(float)
    recency = np.where(lv >= 0, (t - lv) / DAY_MS, tenure)
    return np.column_stack([recency, n_val[pop], tenure])


def bgnbd_scores(d: peer.Data, T: int, horizon: int, pop: np.ndarray,
                 value_mask: np.ndarray) -> tuple[np.ndarray, dict]:
    """BG/NBD P(no value action in [T, T + horizon days)) for the users `pop`, and the fit."""
    from scipy.optimize import minimize
    from scipy.special import betaln, gammaln

    b = d.window(d.min_ts, T)
    vm = value_mask[b]
    uid, day = d.uid[b][vm], d.ts[b][vm] // DAY_MS
    first_ts = np.full(d.n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_ts, uid, d.ts[b][vm])
    last_ts = np.full(d.n_users, -1, dtype=np.int64)
    np.maximum.at(last_ts, uid, d.ts[b][vm])
    # distinct (user, day) pairs -> transactions per user
    pairs = np.unique(uid.astype(np.int64) * (1 << 32) + (day - day.min() if len(day) else day))
    days = np.bincount((pairs >> 32).astype(np.int64), minlength=d.n_users).astype(float)
    buyers = days > 0
    x_all = np.maximum(days - 1, 0)
    tx_all = np.where(buyers, (last_ts - first_ts) / DAY_MS, 0.0)
    age_all = np.where(buyers, (T - first_ts) / DAY_MS, 0.0)
    x, tx, age = x_all[buyers], tx_all[buyers], age_all[buyers]

    def nll(p):
        r, al, a, bb = np.exp(p)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(al)
        a2 = betaln(a, bb + x) - betaln(a, bb) - (r + x) * np.log(al + age)
        with np.errstate(all="ignore"):
            a3 = np.where(x > 0, betaln(a + 1, np.maximum(bb + x - 1, 1e-12)) - betaln(a, bb)
                          - (r + x) * np.log(al + tx), -np.inf)
        v = -np.mean(a1 + np.logaddexp(a2, a3))
        return v if np.isfinite(v) else 1e300

    res = minimize(nll, np.log([1.0, 10.0, 1.0, 1.0]), method="Nelder-Mead",
                   options={"maxiter": 20000, "xatol": 1e-7, "fatol": 1e-10})
    r, al, a, bb = np.exp(res.x)
    # the users to score: buyers as they are; others from signup (else first event), x = 0
    xp, txp, agep = x_all[pop], tx_all[pop], age_all[pop].copy()
    none = ~buyers[pop]
    signup = d.signup_arr[pop]
    start = np.where(np.isnan(signup), d.first_ts[pop].astype(float), signup)
    agep[none] = np.maximum((T - start[none]) / DAY_MS, 0.0)
    with np.errstate(all="ignore"):
        odds = np.where(xp > 0, a / (bb + xp - 1) * ((al + agep) / (al + txp)) ** (r + xp), 0.0)
    p_buy = (1 / (1 + odds)) * (1 - ((al + agep) / (al + agep + horizon)) ** (r + xp))
    fit = {"r": float(r), "alpha": float(al), "a": float(a), "b": float(bb),
           "users": int(buyers.sum()), "converged": bool(res.success)}
    return 1 - p_buy, fit


class Std:
    def __init__(self, z: np.ndarray):
        self.mean = z.mean(axis=0)
        self.std = z.std(axis=0)
        self.std[self.std == 0] = 1.0

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return (z - self.mean) / self.std


def cmd_baselines(a) -> int:
    value_types, _, _ = peer.read_spec(a.features)
    d = peer.Data(a.events, a.users, a.subscriptions)
    definition = "subscription" if a.subscriptions else "inactivity"
    T = peer.parse_date_ms(a.as_of)
    if d.max_ts >= T:
        sys.exit(f"{a.events}: has events at or after {a.as_of}; truncate the log at T first")
    value_mask = np.isin(d.event_names, value_types)
    dates = peer.holdout_dates(T, a.horizon_days, d.min_ts)
    panel = []
    for t in dates:
        pop, y = peer.population_and_labels(d, definition, t, a.horizon_days, a.active_days,
                                            value_mask)
        if len(pop):
            panel.append({"as_of": t, "x": np.log1p(rft_features(d, t, pop, value_mask)),
                          "y": y.astype(int)})
    if len(panel) < 2:
        sys.exit(f"held-out panel has {len(panel)} usable date(s); need 2")
    tr = peer.train_dates([p["as_of"] for p in panel], a.horizon_days)
    x_tr = np.vstack([panel[i]["x"] for i in tr])
    y_tr = np.concatenate([panel[i]["y"] for i in tr])
    x_va, y_va = panel[0]["x"], panel[0]["y"]
    s = Std(x_tr)
    C, val, _, trials = peer.choose_c(s(x_tr), y_tr, s(x_va), y_va)
    x_all = np.vstack([p["x"] for p in panel])
    y_all = np.concatenate([p["y"] for p in panel])
    s = Std(x_all)
    rft = peer.logreg(C).fit(s(x_all), y_all)
    rec = peer.logreg(1.0).fit(s(x_all)[:, [0]], y_all)

    pop = peer.population_at(d, definition, T, a.active_days)
    z_T = s(np.log1p(rft_features(d, T, pop, value_mask)))
    ids = d.user_ids[pop]
    a.out_dir.mkdir(parents=True, exist_ok=True)
    p_bgnbd, bgnbd_fit = bgnbd_scores(d, T, a.horizon_days, pop, value_mask)
    for name, p in (("rft", rft.predict_proba(z_T)[:, 1]),
                    ("recency", rec.predict_proba(z_T[:, [0]])[:, 1]),
                    ("bgnbd", p_bgnbd)):
        pd.DataFrame({"user_id": ids, "probability": p}).to_csv(
            a.out_dir / f"{name}.csv", index=False, float_format="%.6f")
    info = {"panel_dates": [peer.fmt_date(p["as_of"]) for p in panel],
            "train_dates": [peer.fmt_date(panel[i]["as_of"]) for i in tr],
            "refit_rows": int(len(y_all)), "rft_C": C, "rft_validation": val,
            "rft_c_search": trials, "scored": int(len(pop)),
            "rft_coefficients": dict(zip(["log1p_recency", "log1p_value_actions",
                                          "log1p_tenure"], map(float, rft.coef_[0]))),
            "recency_coefficient": float(rec.coef_[0][0]), "bgnbd": bgnbd_fit}
    (a.out_dir / "baselines.json").write_text(json.dumps(info, indent=2))
    return 0


# --------------------------------------------------------------------------- evaluate
def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float:
    n = len(y)
    k = max(1, int(round(0.1 * n)))
    order = np.sort(p)[::-1]
    cut = order[k - 1]
    above = p > cut
    at = p == cut
    churned_top = y[above].sum() + (k - above.sum()) * y[at].mean()
    return float((churned_top / k) / y.mean())


def metric_set(y: np.ndarray, p: np.ndarray) -> dict:
    return {"auc": float(roc_auc_score(y, p)), "brier": float(brier_score_loss(y, p)),
            "lift": top_decile_lift(y, p)}


def paired_differences(y: np.ndarray, p_ref: np.ndarray, others: dict[str, np.ndarray],
                       rounds: int = 1000, seed: int = 0) -> dict:
    """The reference's AUC and Brier minus each other method's on the same users, with a
    95% paired bootstrap interval (users resampled with replacement, every method on the
    same resample; a fixed seed, so the table is deterministic). An interval that holds 0
    is a tie at this population's size."""
    rng = np.random.default_rng(seed)
    n = len(y)

    def auc(yy, pp):  # Mann-Whitney with tied scores at their mean rank (= roc_auc_score)
        r = rankdata(pp)
        pos = yy.sum()
        return (r[yy == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(yy) - pos))

    def metrics(idx, p):
        yy = y[idx]
        return auc(yy, p[idx]), np.mean((p[idx] - yy) ** 2)

    def diffs(idx):  # per method: (reference − method) in AUC and Brier
        ref = np.array(metrics(idx, p_ref))
        return {name: ref - np.array(metrics(idx, p)) for name, p in others.items()}

    point = diffs(np.arange(n))
    draws = []
    for _ in range(rounds):
        idx = rng.integers(0, n, n)
        if 0 < y[idx].sum() < n:  # both classes, or AUC is undefined
            draws.append(diffs(idx))
    out = {}
    for name in others:
        lo, hi = np.percentile(np.array([d[name] for d in draws]), [2.5, 97.5], axis=0)
        out[name] = {"auc": [float(point[name][0]), float(lo[0]), float(hi[0])],
                     "brier": [float(point[name][1]), float(lo[1]), float(hi[1])]}
    return out


def read_scores(path: Path) -> pd.Series:
    s = pd.read_csv(path, dtype={"user_id": str})
    col = "probability" if "probability" in s.columns else "churn_probability"
    if col not in s.columns:
        sys.exit(f"{path}: no probability column (have {list(s.columns)})")
    if s["user_id"].duplicated().any():
        sys.exit(f"{path}: duplicate user_id rows")
    return s.set_index("user_id")[col].astype(float)


def find_windows(model: dict):
    """The windows churnrisk chose ("windows" at the top of the model or in its training
    block), else the configured ones of its feature definitions."""
    for where, block in (("model", model), ("training", model.get("training", {}))):
        if isinstance(block, dict) and "windows" in block:
            return "chosen", block["windows"]
    fd = model.get("feature_definitions", {})
    if isinstance(fd, dict) and "windows" in fd:
        return "from its feature definitions; the model records no chosen windows", fd["windows"]
    return None, None


def cmd_evaluate(a) -> int:
    value_types, _, _ = peer.read_spec(a.features)
    ev = pd.read_csv(a.events, dtype={"user_id": str, "timestamp": str, "event": str},
                     usecols=["user_id", "timestamp", "event"])
    ts = peer.to_ms(ev["timestamp"])
    T = peer.parse_date_ms(a.as_of)
    A, H = a.active_days * DAY_MS, a.horizon_days * DAY_MS
    if np.nanmax(ts) < T + H - DAY_MS:
        print(f"WARNING: the full log ends at {peer.fmt_date(int(np.nanmax(ts)))}, before "
              f"T + H = {peer.fmt_date(T + H)}: churn is overstated", file=sys.stderr)
    if a.subscriptions:  # the FULL table: population running at T, churned = period ends by T + H
        subs = pd.read_csv(a.subscriptions, dtype=str, keep_default_na=False,
                           usecols=["user_id", "start_date", "end_date"])
        subs["start_ts"], subs["end_ts"] = peer.to_ms(subs["start_date"]), peer.to_ms(subs["end_date"])
        p = peer.active_periods(subs)
        run = p[peer.running_at(p, T)]
        pop = np.unique(run["user_id"].to_numpy())
        retained = set(run["user_id"][run["end_ts"].isna() | (run["end_ts"] > T + H)])
    else:
        pop = np.unique(ev["user_id"][(ts >= T - A) & (ts < T)].to_numpy())
        fut = (ts >= T) & (ts < T + H) & ev["event"].isin(value_types).to_numpy()
        retained = set(ev["user_id"][fut])
    y_all = pd.Series([0 if u in retained else 1 for u in pop], index=pop)

    scores = {}
    for spec in a.method:
        name, path = spec.split("=", 1)
        scores[name] = read_scores(Path(path))
    mism = {}
    for name, s in scores.items():
        ids = set(s.index)
        mism[name] = {"missing": len(set(pop) - ids), "extra": len(ids - set(pop))}
    common = [u for u in pop if all(u in s.index for s in scores.values())]
    y = y_all.loc[common].to_numpy()
    out = {k: v for k, v in (kv.split("=", 1) for kv in a.label)}
    out.update({"as_of": a.as_of, "horizon": a.horizon_days, "population": int(len(pop)),
                "evaluated": int(len(common)), "churn_rate": float(y.mean()),
                "mismatch": mism, "metrics": {}})
    for name, s in scores.items():
        p = s.loc[common].to_numpy()
        out["metrics"][name] = metric_set(y, p)
    if a.reference in scores:
        p_ref = scores[a.reference].loc[common].to_numpy()
        out["paired"] = paired_differences(
            y, p_ref, {name: s.loc[common].to_numpy()
                       for name, s in scores.items() if name != a.reference})
    if a.model and a.model.exists():
        kind, w = find_windows(json.loads(a.model.read_text()))
        out["windows"] = {"kind": kind, "windows": w} if kind else None
    for key, path in (("peer", a.peer_json), ("rft", a.rft_json)):
        if path and path.exists():
            j = json.loads(path.read_text())
            out[f"{key}_C"] = j.get("C", j.get("rft_C"))
    a.json.write_text(json.dumps(out, indent=2))
    ref = mism.get(a.reference)
    if ref and (ref["missing"] or ref["extra"]):
        print(f"WARNING: {a.reference} scored a different population: {ref['missing']} of the "
              f"{len(pop)} users at T missing, {ref['extra']} extra", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------ table
def fmt(v: float, nd: int) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def cmd_table(a) -> int:
    runs = []
    for p in a.runs:
        try:
            runs.append(json.loads(Path(p).read_text()))
        except (OSError, ValueError) as e:
            print(f"WARNING: {p}: {e}", file=sys.stderr)
    head = ["scenario", "H", "seed", "users at T", "churn rate", "pop. mismatch"]
    for m in METHODS:
        head += [f"{m} AUC", f"{m} Brier", f"{m} lift@10%"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]

    def cells(r, m):
        x = r["metrics"].get(m)
        if x is None:
            return ["–"] * 3
        return [fmt(x["auc"], 3), fmt(x["brier"], 3), fmt(x["lift"], 2)]

    order = []
    for r in runs:
        key = (r["scenario"], int(r["horizon"]))
        if key not in order:
            order.append(key)
    for key in order:
        group = [r for r in runs if (r["scenario"], int(r["horizon"])) == key]
        for r in group:
            mm = r["mismatch"].get("churnrisk")
            mm_s = "–" if mm is None else str(mm["missing"] + mm["extra"])
            row = [r["scenario"], str(r["horizon"]), str(r["seed"]), str(r["population"]),
                   fmt(r["churn_rate"], 3), mm_s]
            for m in METHODS:
                row += cells(r, m)
            lines.append("| " + " | ".join(row) + " |")
        if len(group) > 1:
            row = [f"**{key[0]} mean**", str(key[1]), f"{len(group)} seeds",
                   fmt(float(np.mean([r["population"] for r in group])), 0),
                   fmt(float(np.mean([r["churn_rate"] for r in group])), 3),
                   str(sum(sum(r["mismatch"].get("churnrisk", {"m": 0}).values()) for r in group))]
            for m in METHODS:
                vals = [r["metrics"][m] for r in group if m in r["metrics"]]
                if len(vals) < len(group):  # a method failed on some seed: no mean
                    row += ["–"] * 3
                else:
                    row += [fmt(float(np.mean([v[k] for v in vals])), nd)
                            for k, nd in (("auc", 3), ("brier", 3), ("lift", 2))]
            lines.append("| " + " | ".join(f"**{c}**" if i > 2 and c != "–" else c
                                           for i, c in enumerate(row)) + " |")
    notes = []
    for r in sorted(runs, key=lambda r: order.index((r["scenario"], int(r["horizon"])))):
        bits = []
        w = r.get("windows")
        if w:
            bits.append(f"churnrisk windows ({w['kind']}): {json.dumps(w['windows'])}")
        if r.get("peer_C") is not None:
            bits.append(f"peer C={r['peer_C']:g}")
        if r.get("rft_C") is not None:
            bits.append(f"RFT C={r['rft_C']:g}")
        for m, mm in r["mismatch"].items():
            if mm["missing"] or mm["extra"]:
                bits.append(f"{m}: {mm['missing']} missing / {mm['extra']} extra users")
        for m, d in r.get("paired", {}).items():
            if m in ("peer", "rft", "bgnbd"):
                bits.append(f"churnrisk − {m}: AUC {d['auc'][0]:+.4f} [{d['auc'][1]:+.4f}, "
                            f"{d['auc'][2]:+.4f}], Brier {d['brier'][0]:+.4f} "
                            f"[{d['brier'][1]:+.4f}, {d['brier'][2]:+.4f}]")
        if r["evaluated"] != r["population"]:
            bits.append(f"evaluated on {r['evaluated']} of {r['population']} users")
        if bits:
            notes.append(f"- {r['scenario']} H={r['horizon']} seed {r['seed']} "
                         f"(T = {r['as_of']}): " + "; ".join(bits))
    text = "\n".join(lines) + "\n"
    notes += [f"- {n}" for n in a.note]
    if notes:
        text += "\n" + "\n".join(notes) + "\n"
    print(text, end="")
    if a.md:
        a.md.write_text(text)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("truncate")
    t.add_argument("--events", required=True, type=Path)
    t.add_argument("--as-of", required=True)
    t.add_argument("--out", required=True, type=Path)
    t.add_argument("--subscriptions", type=Path)
    t.add_argument("--subscriptions-out", type=Path)

    lt = sub.add_parser("lifetimes")
    lt.add_argument("--wheel", required=True, type=Path)
    lt.add_argument("--out", required=True, type=Path)

    def common(p):
        p.add_argument("--events", required=True, type=Path)
        p.add_argument("--features", required=True, type=Path)
        p.add_argument("--as-of", required=True)
        p.add_argument("--horizon-days", required=True, type=int)
        p.add_argument("--active-days", required=True, type=int)

    b = sub.add_parser("baselines")
    common(b)
    b.add_argument("--users", type=Path)
    b.add_argument("--subscriptions", type=Path, help="the table as known at T")
    b.add_argument("--out-dir", required=True, type=Path)
    e = sub.add_parser("evaluate")
    common(e)
    e.add_argument("--method", action="append", default=[], help="NAME=scores.csv")
    e.add_argument("--subscriptions", type=Path,
                   help="the full table: the subscription definition's truth")
    e.add_argument("--reference", default="churnrisk")
    e.add_argument("--model", type=Path)
    e.add_argument("--peer-json", type=Path)
    e.add_argument("--rft-json", type=Path)
    e.add_argument("--label", action="append", default=[], help="KEY=VALUE for the table")
    e.add_argument("--json", required=True, type=Path)
    tb = sub.add_parser("table")
    tb.add_argument("runs", nargs="*")
    tb.add_argument("--md", type=Path)
    tb.add_argument("--note", action="append", default=[], help="a line under the table")
    a = ap.parse_args()
    return {"lifetimes": cmd_lifetimes, "truncate": cmd_truncate, "baselines": cmd_baselines, "evaluate": cmd_evaluate,
            "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
