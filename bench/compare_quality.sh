#!/usr/bin/env bash
# Model quality: churnrisk vs. a hand-written Fighting-Churn-with-Data peer (bench/fcwd_peer.py)
# on the same observation panel and labels. Prints a markdown table of validation metrics.
#
#   bench/compare_quality.sh                 # seeds 1 2 3, inactivity + subscription definitions
#   SEEDS="7" bench/compare_quality.sh       # other seeds
#   CHURNRISK=path/to/churnrisk bench/compare_quality.sh
#
# Uses target/release/churnrisk if built, else target/debug/churnrisk; never builds.
# Generated data, models and peer results go to bench/data/ (gitignored); the Python venv
# to bench/.venv (gitignored). About 40 s per seed with the debug binary.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SEEDS=${SEEDS:-"1 2 3"}
USERS=${USERS:-3000}
DAYS=${DAYS:-182}
AS_OF=${AS_OF:-2026-07-06}
DATA=$ROOT/bench/data
VENV=$ROOT/bench/.venv

if [[ -z ${CHURNRISK:-} ]]; then
    for b in target/release/churnrisk target/debug/churnrisk; do
        if [[ -x $b ]]; then CHURNRISK=$ROOT/$b; break; fi
    done
fi
[[ -n ${CHURNRISK:-} && -x $CHURNRISK ]] || { echo "no churnrisk binary (build it first)" >&2; exit 2; }

if [[ ! -x $VENV/bin/python ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r bench/requirements.txt
PY=$VENV/bin/python

mkdir -p "$DATA"
results=()
for seed in $SEEDS; do
    dir=$DATA/seed$seed
    if [[ ! -s $dir/events.csv ]]; then
        "$CHURNRISK" generate -q --out "$dir" --users "$USERS" --days "$DAYS" --seed "$seed" --format csv
    fi
    for def in inactivity subscription; do
        extra=()
        [[ $def == subscription ]] && extra=(--subscriptions "$dir/subscriptions.csv")
        model=$dir/model_$def.json
        peer=$dir/peer_$def.json
        echo "seed $seed, $def: churnrisk train ..." >&2
        "$CHURNRISK" train -q --events "$dir/events.csv" --users "$dir/users.csv" "${extra[@]}" \
            --as-of "$AS_OF" --model "$model" >"$dir/train_$def.log"
        echo "seed $seed, $def: peer ..." >&2
        "$PY" bench/fcwd_peer.py --quiet --events "$dir/events.csv" --users "$dir/users.csv" \
            "${extra[@]}" --as-of "$AS_OF" --model "$model" --json "$peer" >/dev/null || true
        results+=("seed$seed-$def|$model|$peer")
    done
done

"$PY" - "${results[@]}" <<'EOF'
import json, sys
print()
print("| dataset | churnrisk ROC AUC | churnrisk PR AUC | churnrisk log loss "
      "| peer ROC AUC | peer PR AUC | peer log loss | recency baseline ROC AUC | panel |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for item in sys.argv[1:]:
    name, model, peer = item.split("|")
    m = json.load(open(model))
    try:
        p = json.load(open(peer))
    except (OSError, ValueError):
        p = None
    cr, base = m["validation"], m["baseline"]
    if p is None:
        pv, panel = {"roc_auc": float("nan"), "pr_auc": float("nan"), "log_loss": float("nan")}, "peer failed"
    else:
        pv = p["validation"]
        panel = "match" if not p["panel_mismatches"] else f"MISMATCH ({len(p['panel_mismatches'])} dates)"
    print(f"| {name} | {cr['roc_auc']:.4f} | {cr['pr_auc']:.4f} | {cr['log_loss']:.4f} "
          f"| {pv['roc_auc']:.4f} | {pv['pr_auc']:.4f} | {pv['log_loss']:.4f} "
          f"| {base['roc_auc']:.4f} | {panel} |")
EOF
