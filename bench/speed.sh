#!/usr/bin/env bash
# Speed and memory: churnrisk against the same job hand-written in pandas + scikit-learn
# (bench/speed_pandas.py) and the feature aggregation in DuckDB SQL (bench/speed_duckdb.py),
# on generated Parquet event logs of the given sizes, one after the other on this machine.
#
#   bench/speed.sh                  # sizes 1M 10M (events)
#   bench/speed.sh 200k 1M 10M 100M
#   CHURNRISK=path/to/churnrisk MEM_CAP_GB=16 bench/speed.sh 10M
#   ROUNDS=1 bench/speed.sh 1M      # each job once (default 3 rounds, medians reported)
#
# Per size: `churnrisk generate` writes bench/data/speed_SIZE/ (about 190 events per user
# over 182 days, so users = SIZE / 190.6; skipped when events.parquet is already there;
# a binary without `--format parquet` writes CSV, converted here with pyarrow). Then, each
# under /usr/bin/time (wall seconds, peak RSS):
#   churnrisk train, churnrisk score (read + validate + features + score + write the list),
#   pandas+sklearn train and score, DuckDB features.
# The markdown table goes to stdout and bench/data/speed_results.md; job logs stay in
# bench/data/speed_SIZE/run/. The Python jobs run under an address-space cap of
# MEM_CAP_GB (default 16; RLIMIT_AS, of which the imports alone reserve about 1.7 GB) and
# DuckDB with memory_limit at the same; churnrisk runs uncapped (its peak RSS is the
# figure). A failed job shows "failed: <reason>" in its cell; the other jobs and sizes go on.
# Never builds: uses $CHURNRISK (default target/release/churnrisk). Creates bench/.venv
# from bench/requirements.txt when absent (and installs into it what is missing).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
CHURNRISK=${CHURNRISK:-target/release/churnrisk}
MEM_CAP_GB=${MEM_CAP_GB:-16}
# From this many events on, churnrisk scores in SHARDS user-hash shards, one process after
# the other (what n workers would do in parallel), and merges the parts: each process holds
# one shard of the log, so peak RSS is a shard's, not the log's. Training then uses the
# user-hash sample of shard 1/SHARDS.
SHARD_FROM=${SHARD_FROM:-50000000}
# churnrisk train at one L2 strength, near the peer's: churnrisk's alpha is per row, so
# scikit-learn's C=1 is alpha 1/rows (1e-6 on a panel of 10^6 rows): one fit each, equal work.
# TRAIN_ARGS="" runs churnrisk's own search over 5 strengths.
TRAIN_ARGS=${TRAIN_ARGS---alpha 1e-6}
SHARDS=${SHARDS:-8}
# Every job runs ROUNDS times, the rounds interleaved (churnrisk, pandas and DuckDB in turn,
# then again), and the table shows each job's median wall time and largest peak RSS. On a
# shared virtual machine one run of the same command varies by a third or more (memory
# handed back to the host is slow to touch again), so one run each is not a ratio.
# Sharded sizes (from SHARD_FROM) run once.
ROUNDS=${ROUNDS:-3}
AS_OF=${AS_OF:-2026-07-06}
DAYS=182
EVENTS_PER_USER=190.6   # 9,531,829 events for 50,000 users over 182 days
DATA=$ROOT/bench/data
VENV=$ROOT/bench/.venv
OUT=$DATA/speed_results.md
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(1M 10M)

source bench/setup.sh

# CSV -> Parquet in 64 MB blocks (only for a churnrisk without `generate --format parquet`).
# The timestamp is stored as a naive datetime holding UTC milliseconds.
csv_to_parquet() {
    "$PY" - "$1" "$2" <<'EOF'
import os, sys
import pyarrow as pa, pyarrow.csv as pc, pyarrow.parquet as pq
src, dst = sys.argv[1], sys.argv[2]
types = {"user_id": pa.string(), "timestamp": pa.timestamp("ms", tz="UTC"),
         "event": pa.string(), "value": pa.float64(), "session_id": pa.string()}
reader = pc.open_csv(src, read_options=pc.ReadOptions(block_size=64 << 20),
                     convert_options=pc.ConvertOptions(column_types=types))
i = reader.schema.get_field_index("timestamp")
schema = reader.schema.set(i, pa.field("timestamp", pa.timestamp("ms")))
with pq.ParquetWriter(dst + ".tmp", schema) as w:
    for batch in reader:
        cols = batch.columns
        cols[i] = cols[i].cast(pa.timestamp("ms"))  # same instants, UTC, no zone
        w.write_batch(pa.record_batch(cols, schema=schema))
os.replace(dst + ".tmp", dst)
EOF
}

# run_job NAME CMD... : runs CMD under /usr/bin/time in $WORK; NAME.out/.err (of the last
# run) and .rc (the worst exit code of its runs); NAME.time gets one line per run.
run_job() {
    local name=$1; shift
    echo "  $name ..." >&2
    local rc=0
    /usr/bin/time -a -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    local before=0
    [[ -s $WORK/$name.rc ]] && before=$(cat "$WORK/$name.rc")
    (( rc > before )) && before=$rc
    echo "$before" >"$WORK/$name.rc"
}

machine="$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB RAM, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo 'unknown CPU')"
{
    echo "# churnrisk speed benchmark"
    echo
    echo "Command: \`CHURNRISK=$CHURNRISK MEM_CAP_GB=$MEM_CAP_GB TRAIN_ARGS=\"$TRAIN_ARGS\" ROUNDS=$ROUNDS bench/speed.sh ${SIZES[*]}\`"
    echo "($(date -u +%Y-%m-%dT%H:%MZ), $("$CHURNRISK" --version 2>/dev/null || echo churnrisk), as-of $AS_OF)"
    echo
    echo "Machine: $machine; load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "Python: $("$PY" -c 'import sys, pandas, sklearn, duckdb, pyarrow; print(f"{sys.version.split()[0]}, pandas {pandas.__version__}, scikit-learn {sklearn.__version__}, pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}")')"
    echo
    echo "Wall seconds / peak RSS MB per job (/usr/bin/time): the median wall time of the job's runs (all of them in brackets when there are several, in the order run) and the largest peak RSS. *score* = churnrisk score (read, validate, features, score, write the ranked list) and pandas --mode score (read, features, score, write the list); *train* = the whole training run (churnrisk: 12-date panel, the L2 strengths of TRAIN_ARGS (one, alpha 1, by default), the recency baseline, the refit on every date and the drift reference; pandas: the same panel and purge, one lbfgs fit at C=1). From SHARD_FROM events on, churnrisk scores in SHARDS user-hash shards run one after the other and merged (time summed, RSS of the largest process) and trains on the user-hash sample 1/SHARDS. DuckDB: features only. Under the Python jobs, in brackets: their own split of the time after the imports (load = reading the Parquet into typed columns; DuckDB's features include its reading); the rest of the wall time is interpreter start and imports (about 2 s). Ratios: pandas/churnrisk score time; churnrisk/pandas score peak RSS; DuckDB features time / churnrisk score time (churnrisk's score time also reads, validates, scores and writes the list, so this understates DuckDB's ratio to churnrisk's features alone); pandas/churnrisk train time, with each one's validation log loss (churnrisk / pandas)."
    echo
    echo "| size | events | users (scored) | churnrisk train | churnrisk score | pandas train | pandas score | DuckDB features | score time pandas/churnrisk | score RSS churnrisk/pandas | DuckDB features / churnrisk score | train time pandas/churnrisk (log loss churnrisk / pandas) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$OUT"

for size in "${SIZES[@]}"; do
    n=$(events_of "$size") || { echo "bad size: $size (use e.g. 200k, 1M, 10M)" >&2; continue; }
    users=$(awk -v n="$n" -v k="$EVENTS_PER_USER" 'BEGIN { u = int(n / k + 0.5); print (u < 100 ? 100 : u) }')
    dir=$DATA/speed_$size
    E=$dir/events.parquet
    WORK=$dir/run
    rm -rf "$WORK"; mkdir -p "$WORK"
    echo "size $size: $users users -> $dir" >&2
    gen_error=""
    if [[ ! -s $E ]]; then
        if ! "$CHURNRISK" -q generate --users "$users" --days "$DAYS" --format parquet --out "$dir" 2>"$WORK/generate.err"; then
            echo "  (this churnrisk has no --format parquet: writing CSV and converting with pyarrow)" >&2
            if "$CHURNRISK" -q generate --users "$users" --days "$DAYS" --format csv --out "$dir" 2>>"$WORK/generate.err" \
                && csv_to_parquet "$dir/events.csv" "$E" 2>>"$WORK/generate.err"; then
                rm -f "$dir/events.csv"   # the Parquet copy is the benchmark's input
            else
                gen_error="generate: $(tail -n1 "$WORK/generate.err")"
            fi
        fi
        [[ -s $E || -n $gen_error ]] || gen_error="generate wrote no $E"
    fi
    if [[ -z $gen_error ]]; then
        U=$dir/users.csv
        if (( n >= SHARD_FROM )); then
            run_job cr_train "$CHURNRISK" -q train --events "$E" --users "$U" --as-of "$AS_OF" --model "$WORK/model.json" --shard "1/$SHARDS" $TRAIN_ARGS
            for i in $(seq 1 "$SHARDS"); do
                run_job "cr_score_$i" "$CHURNRISK" -q score --events "$E" --users "$U" --model "$WORK/model.json" \
                    --as-of "$AS_OF" --shard "$i/$SHARDS" --out "$WORK/part-$i.jsonl"
            done
            run_job cr_merge "$CHURNRISK" -q merge --out "$WORK/at_risk.csv" "$WORK"/part-*.jsonl
            # One cr_score line: wall seconds summed over the shards and the merge, peak RSS the
            # largest process's; the exit code the first failure's.
            cat "$WORK"/cr_score_*.time "$WORK/cr_merge.time" | awk '$1 ~ /^[0-9.]+$/ && NF == 2 { s += $1; if ($2 > m) m = $2 } END { print s, m }' >"$WORK/cr_score.time"
            cat "$WORK"/cr_score_*.rc "$WORK/cr_merge.rc" | sort -n | tail -n1 >"$WORK/cr_score.rc"
            cat "$WORK"/cr_score_*.err "$WORK/cr_merge.err" >"$WORK/cr_score.err" 2>/dev/null || true
            : >"$WORK/cr_score.out"
            echo "sharded" >"$WORK/sharded"
        fi
        rounds=$ROUNDS
        (( n >= SHARD_FROM )) && rounds=1
        for round in $(seq 1 "$rounds"); do
            (( rounds > 1 )) && echo "  round $round of $rounds" >&2
            if (( n < SHARD_FROM )); then
                run_job cr_train "$CHURNRISK" -q train --events "$E" --users "$U" --as-of "$AS_OF" --model "$WORK/model.json" $TRAIN_ARGS
                run_job cr_score "$CHURNRISK" -q score --events "$E" --users "$U" --model "$WORK/model.json" --as-of "$AS_OF" --out "$WORK/at_risk.csv"
            fi
            run_job pd_train "$PY" bench/speed_pandas.py --mode train --events "$E" --users "$U" --as-of "$AS_OF" \
                --mem-cap-gb "$MEM_CAP_GB" --save-model "$WORK/pandas_model.json"
            model_arg=()
            [[ -s $WORK/pandas_model.json ]] && model_arg=(--model-json "$WORK/pandas_model.json")
            run_job pd_score "$PY" bench/speed_pandas.py --mode score --events "$E" --users "$U" --as-of "$AS_OF" \
                --mem-cap-gb "$MEM_CAP_GB" "${model_arg[@]}" --out "$WORK/pandas_at_risk.csv"
            run_job duckdb "$PY" bench/speed_duckdb.py --events "$E" --users "$U" --as-of "$AS_OF" --mem-cap-gb "$MEM_CAP_GB"
        done
    fi
    "$PY" - "$size" "$users" "$E" "$WORK" "$gen_error" <<'EOF' | tee -a "$OUT"
import json, statistics, sys
from pathlib import Path

size, users, events_path, work, gen_error = sys.argv[1:6]
work = Path(work)


def job(name):
    """{'s', 'mb', 'json', 'error'} of one job (error None when it succeeded)."""
    rc_file = work / f"{name}.rc"
    if gen_error:
        return {"error": gen_error}
    if not rc_file.exists():
        return {"error": "not run"}
    rc = int(rc_file.read_text().strip() or 1)
    lines = (work / f"{name}.time").read_text().split("\n") if (work / f"{name}.time").exists() else []
    runs = [l.split()[:2] for l in lines if l and l[0].isdigit() and len(l.split()) >= 2]
    walls = [float(r[0]) for r in runs]
    s = statistics.median(walls) if walls else float("nan")
    kb = max(float(r[1]) for r in runs) if runs else float("nan")
    out = (work / f"{name}.out").read_text(errors="replace").strip().splitlines()
    err = (work / f"{name}.err").read_text(errors="replace").strip().splitlines()
    data = None
    if out and out[-1].startswith("{"):
        try:
            data = json.loads(out[-1])
        except ValueError:
            pass
    error = None
    if data and data.get("error"):
        error = data["error"]
    elif rc != 0:
        msg = next((l for l in reversed(err) if l.strip() and "Command exited" not in l), "")
        error = f"exit {rc}" + (f": {msg.strip()}" if msg else "")
        if rc in (137, -9) or "Killed" in msg:
            error = f"exit {rc}: killed (out of memory?)"
    return {"s": s, "walls": walls, "mb": kb / 1024, "json": data or {}, "error": error}


def cell(j, *parts):
    """wall s / peak MB, then the script's own split of its time (after its imports)."""
    if j["error"]:
        e = j["error"].replace("|", "/")
        return "failed: " + (e if len(e) <= 90 else e[:87] + "...")
    inner = " + ".join(f"{k} {j['json'][k + '_s']:.1f}" for k in parts if j["json"].get(k + "_s") is not None)
    runs = f" ({', '.join(f'{w:.2f}' for w in j['walls'])})" if len(j["walls"]) > 1 else ""
    return f"{j['s']:.2f} s{runs} / {j['mb']:,.0f} MB" + (f"<br>({inner}, last run)" if inner else "")


def ok(*js):
    return all(not j["error"] for j in js)


cr_train, cr_score, pd_train, pd_score, duck = map(job, ["cr_train", "cr_score", "pd_train", "pd_score", "duckdb"])
events = "?"
try:
    import pyarrow.parquet as pq
    events = f"{pq.ParquetFile(events_path).metadata.num_rows:,}"
except Exception:
    pass
scored = pd_score["json"].get("users") or duck["json"].get("users")
users_cell = f"{int(users):,}" + (f" ({scored:,})" if scored else "")
try:  # churnrisk's list: one row per scored user after the header
    cr_scored = sum(1 for _ in open(work / "at_risk.csv", "rb")) - 1
    if scored and cr_scored != scored:
        users_cell += f" (churnrisk {cr_scored:,})"
except OSError:
    pass
score_ratio = f"{pd_score['s'] / cr_score['s']:.1f}x" if ok(cr_score, pd_score) else "-"
rss_ratio = f"{cr_score['mb'] / pd_score['mb']:.2f}" if ok(cr_score, pd_score) else "-"
duck_ratio = f"{duck['s'] / cr_score['s']:.1f}x" if ok(cr_score, duck) else "-"
cr_ll = "?"
try:
    cr_ll = f"{json.loads((work / 'model.json').read_text())['validation']['log_loss']:.4f}"
except Exception:
    pass
pd_ll = pd_train["json"].get("log_loss")
pd_ll = f"{pd_ll:.4f}" if pd_ll is not None else "?"
train_ratio = (f"{pd_train['s'] / cr_train['s']:.1f}x ({cr_ll} / {pd_ll})"
               if ok(cr_train, pd_train) else f"- ({cr_ll} / {pd_ll})")
sharded = (work / "sharded").exists()
cr_train_cell, cr_score_cell = cell(cr_train), cell(cr_score)
if sharded and not cr_score["error"]:
    shards = len(list(work.glob("cr_score_*.time")))
    cr_score_cell += f"<br>({shards} shards in turn + merge; RSS of the largest)"
if sharded and not cr_train["error"]:
    cr_train_cell += f"<br>(user-hash sample 1/{len(list(work.glob('cr_score_*.time')))})"
print(f"| {size} | {events} | {users_cell} | {cr_train_cell} | {cr_score_cell} "
      f"| {cell(pd_train, 'load', 'features', 'fit')} | {cell(pd_score, 'load', 'features', 'score')} "
      f"| {cell(duck, 'features')} | {score_ratio} | {rss_ratio} | {duck_ratio} | {train_ratio} |")
EOF
done
echo >&2
echo "written to $OUT" >&2
