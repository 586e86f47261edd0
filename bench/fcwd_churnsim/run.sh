#!/usr/bin/env bash
# Fighting Churn with Data's own simulator (Carl Gold's ChurnSim, socialnet7) run without
# PostgreSQL, written out as churnrisk's inputs: a held-out check on a subscription product
# nobody here wrote. Not part of compare_quality.sh: a seed takes ~25 minutes and ~2 GB.
#
#   git clone https://github.com/carl24k/fight-churn && git -C fight-churn checkout 1310fc7
#   python3 -m venv OUT/.venv && OUT/.venv/bin/pip install -r bench/fcwd_churnsim/requirements.txt
#   FIGHT_CHURN_SRC=$PWD/fight-churn bench/fcwd_churnsim/run.sh OUT SEED
#
# writes OUT/seed$SEED/{events,subscriptions,users}.csv (one subscription row per account
# and month, as the simulator makes them), features.toml and sim.log: 12,984 accounts,
# ~26M events, 2025-01-01 .. 2025-12-31. Measured (churnrisk c3d7bb5, T = 2025-10-27,
# H = 28, the subscription definition, as compare_quality.sh runs the social scenario):
# README, Model.
set -euo pipefail
OUT=$(realpath "$1"); S=$2
HERE=$(cd "$(dirname "$0")" && pwd)
: "${FIGHT_CHURN_SRC:?set FIGHT_CHURN_SRC to a checkout of github.com/carl24k/fight-churn}"
export FIGHT_CHURN_SRC
PY=$OUT/.venv/bin/python
D=$OUT/seed$S; START=2025-01-01; END=2025-11-30
CMD="$PY $HERE/run_sim.py --out $D random_seed=$S init_customers=5000 growth_rate=0.1 start_date=$START end_date=$END n_parallel=1"
mkdir -p "$D"
$CMD > "$D/simulator_stdout.log" 2>&1
"$PY" "$HERE/postprocess.py" "$D" "$S" "$END" "$CMD"
printf '[events]\nvalue = ["post", "like", "message", "reply"]\n' > "$D/features.toml"
rm -rf "$D/tmp"
