#!/usr/bin/env bash
# Load-and-validate speed: churnrisk's checked reader (parse, set aside bad rows, find
# exact duplicates) against the same step in pandas (pyarrow CSV engine), same file, same
# run. Usage: CHURNRISK=target/release/churnrisk bench/load_peer.sh [users]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CHURNRISK:-target/release/churnrisk}
USERS=${1:-50000}
DATA=bench/data/load_$USERS
[ -f "$DATA/events.csv" ] || "$BIN" -q generate --users "$USERS" --days 182 --format csv --out "$DATA"
[ -x bench/.venv/bin/python ] || { python3 -m venv bench/.venv && bench/.venv/bin/pip install -q -r bench/requirements.txt; }
WORK=$(mktemp -d)
cp models/sample.json "$WORK/model.json"
cat > "$WORK/night.toml" <<TOML
as_of = "2026-07-06"
[inputs]
events = "$PWD/$DATA/events.csv"
users = "$PWD/$DATA/users.csv"
features = "$PWD/features/default.toml"
[model]
path = "model.json"
max_age_days = 1000
[drift]
retrain = false
[output]
dir = "out"
TOML
echo "events: $(($(wc -l < "$DATA/events.csv") - 1)) rows, $(du -h "$DATA/events.csv" | cut -f1)"
/usr/bin/time -f "churnrisk run (load + score + write): %e s, %M KB peak" "$BIN" -v run --config "$WORK/night.toml" 2>&1 >/dev/null | grep -E "duplicates found|peak"
/usr/bin/time -f "pandas load + validate: %e s, %M KB peak" bench/.venv/bin/python bench/load_peer.py "$DATA/events.csv"
rm -rf "$WORK"
