#!/usr/bin/env bash
# churnrisk on the plans scenario's subscriptions as one row per subscription: in its own
# columns, with the plan's interval, and as a Stripe Dashboard export (interval and
# cancellation requests; bench/plans_export.py), beside the billing-period table
# compare_quality.sh used. Run `SCENARIOS=plans bench/compare_quality.sh` first.
#   bench/plans_export.sh [SEED ...]      # default 1 2 3; prints AUC / Brier and paired CIs
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=bench/.venv/bin/python
CR=${CHURNRISK:-target/release/churnrisk}
T=2025-12-01
for seed in "${@:-1 2 3}"; do
  for s in $seed; do
    d=bench/data/quality/plans/seed$s
    r=$d/h28
    [[ -s $r/churnrisk.csv ]] || { echo "no $r/churnrisk.csv: run SCENARIOS=plans bench/compare_quality.sh" >&2; exit 2; }
    "$PY" bench/plans_export.py "$d" "$T"
    for v in one interval stripe; do
      in=(--events "$r/events_T.csv" --features "$d/features.toml" --users "$d/users.csv"
          --subscriptions "$r/subs_${v}_T.csv")
      "$CR" train "${in[@]}" --as-of "$T" --horizon-days 28 --active-days 28 \
          --model "$r/model_$v.json" >"$r/train_$v.log" 2>&1
      "$CR" score -q "${in[@]}" --as-of "$T" --model "$r/model_$v.json" --out "$r/cr_$v.csv"
    done
    "$PY" bench/holdout.py evaluate --events "$d/events.csv" --features "$d/features.toml" \
        --as-of "$T" --horizon-days 28 --active-days 28 --subscriptions "$d/subscriptions.csv" \
        --method "one=$r/cr_one.csv" --method "interval=$r/cr_interval.csv" \
        --method "stripe=$r/cr_stripe.csv" \
        --method "periods=$r/churnrisk.csv" --method "peer=$r/peer.csv" \
        --reference one --json "$r/export_cmp.json" 2>/dev/null
    "$PY" - "$r/export_cmp.json" "$s" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
m, p = j["metrics"], j["paired"]
print(f"seed {sys.argv[2]}: " + ", ".join(
    f"{k} {v['auc']:.4f}/{v['brier']:.4f}" for k, v in m.items()))
for k, v in p.items():  # evaluate pairs the reference minus each method: turned round
    a, b = [-x for x in v["auc"]], [-x for x in v["brier"]]
    print(f"  {k} - one: AUC {a[0]:+.4f} [{a[2]:+.4f}, {a[1]:+.4f}], "
          f"Brier {b[0]:+.4f} [{b[2]:+.4f}, {b[1]:+.4f}]")
PYEOF
  done
done
