#!/usr/bin/env bash
# Per input format and log shape: churnrisk against the same job in pandas + scikit-learn
# (bench/speed_pandas.py, reading the same file with pyarrow's readers), on one log written
# as CSV, CSV.gz, NDJSON and Parquet.
#
#   bench/formats.sh                                  # 10M events, both shapes, all formats
#   SIZES="1M 10M 30M" ROUNDS=3 bench/formats.sh
#   SHAPES=heavy FORMATS="csv ndjson" JOBS="read score" bench/formats.sh
#
# Shapes: many  = `churnrisk generate` (~190 events per user over 182 days, with users.csv,
#                 timestamps written as 2026-01-05T03:35:14Z);
#         heavy = bench/gen_heavy.py, written by numpy (~1,000 events per user over a year,
#                 no users table, timestamps as 2020-01-01T00:28:16).
# The Parquet log of each shape and size is converted to the other formats by DuckDB
# (bench/data/formats_SHAPE_SIZE/events.{csv,csv.gz,ndjson,parquet}; kept between runs).
# Jobs, each in ROUNDS rounds whose order alternates (churnrisk then pandas, then pandas
# then churnrisk: ABBA), under /usr/bin/time (wall s, peak RSS):
#   read   churnrisk check: read, validate, de-duplicate (file MB / wall s = MB/s)
#   score  churnrisk score (a model trained once, untimed, on the Parquet copy)  vs
#          pandas --mode score (its model from its train job, else fitted untimed)
#   train  churnrisk train --alpha 1e-6  vs  pandas --mode train (one fit each: equal work;
#          alpha is per row, 1e-6 ≈ C = 1 on a panel of 10^6 rows)
#   run    churnrisk run --config (a retraining night: read once, index once, train over
#          the default 5 L2 strengths, score, write the list and manifest) vs pandas
#          train + score (not in the default JOBS)
# The table (medians, all runs in brackets) goes to stdout and bench/data/formats_results.md.
# Never builds: uses $CHURNRISK (default target/release/churnrisk).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CHURNRISK=${CHURNRISK:-target/release/churnrisk}
SIZES=${SIZES:-10M}
SHAPES=${SHAPES:-many heavy}
FORMATS=${FORMATS:-csv csv.gz ndjson parquet}
JOBS=${JOBS:-read score train}
ROUNDS=${ROUNDS:-3}
MEM_CAP_GB=${MEM_CAP_GB:-16}
DATA=$ROOT/bench/data
VENV=$ROOT/bench/.venv
OUT=$DATA/formats_results.md
source bench/setup.sh

# convert DIR ZONE: events.parquet -> events.csv, .csv.gz, .ndjson (ISO text timestamps + ZONE)
convert() {
    "$PY" - "$1" "$2" <<'PYEOF'
import os, sys, duckdb
d, zone = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{d}/events.parquet')").fetchall()]
sel = ", ".join(
    f"strftime(timestamp, '%Y-%m-%dT%H:%M:%S') || '{zone}' AS timestamp" if c == "timestamp" else c
    for c in cols)
src = f"(SELECT {sel} FROM read_parquet('{d}/events.parquet'))"
for name, opts in [("events.csv", "FORMAT CSV, HEADER"),
                   ("events.csv.gz", "FORMAT CSV, HEADER, COMPRESSION gzip"),
                   ("events.ndjson", "FORMAT JSON")]:
    if not os.path.exists(f"{d}/{name}"):
        con.execute(f"COPY {src} TO '{d}/{name}.tmp' ({opts})")
        os.replace(f"{d}/{name}.tmp", f"{d}/{name}")
PYEOF
}

run_job() {  # NAME CMD...: one run under /usr/bin/time, appended to $WORK/NAME.time
    local name=$1; shift
    echo "    $name" >&2
    if ! /usr/bin/time -a -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        echo "fail" >>"$WORK/$name.time"
    fi
}

machine="$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB RAM, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
{
    echo "# churnrisk per format and shape"
    echo
    echo "Command: \`CHURNRISK=$CHURNRISK SIZES=\"$SIZES\" SHAPES=\"$SHAPES\" FORMATS=\"$FORMATS\" JOBS=\"$JOBS\" ROUNDS=$ROUNDS bench/formats.sh\`"
    echo "($(date -u +%Y-%m-%dT%H:%MZ), $("$CHURNRISK" --version 2>/dev/null)); machine: $machine"
    echo
    echo "Median wall s (runs in brackets) / peak RSS MB. read = churnrisk check: read, validate, de-duplicate, derive sessions (MB/s of the file's text: for .csv.gz, of the CSV it holds). train + score = the two jobs summed (peak: the larger)."
    echo
    echo "| shape | size | format | file MB | churnrisk read (MB/s) | churnrisk score | pandas score | score ratio | RSS ratio | churnrisk train + score | pandas train + score | train+score ratio | churnrisk run, retraining (pandas train + score / it) |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} | tee "$OUT"

for shape in $SHAPES; do
  for size in $SIZES; do
    n=$(events_of "$size")
    dir=$DATA/formats_${shape}_$size
    mkdir -p "$dir"
    if [[ ! -s $dir/events.parquet ]]; then
        echo "$shape $size: generating" >&2
        if [[ $shape == many ]]; then
            "$CHURNRISK" -q generate --users "$(( n * 10 / 1906 ))" --days 182 --format parquet --out "$dir"
        else
            "$PY" bench/gen_heavy.py --events "$n" --out "$dir" >&2
        fi
    fi
    if [[ $shape == many ]]; then zone=Z; as_of=2026-07-06; else zone=""; as_of=2020-12-01; fi
    convert "$dir" "$zone"
    users=()
    [[ -s $dir/users.csv ]] && users=(--users "$dir/users.csv")
    # score's model: trained once (untimed) on the Parquet copy, the same for every format
    [[ -s $dir/model.json ]] || "$CHURNRISK" -q train --events "$dir/events.parquet" "${users[@]}" \
        --as-of "$as_of" --model "$dir/model.json" --alpha 1e-6
    for fmt in $FORMATS; do
        E=$dir/events.$fmt
        WORK=$dir/run_$fmt
        rm -rf "$WORK"; mkdir -p "$WORK"
        echo "  $shape $size $fmt" >&2
        for round in $(seq 1 "$ROUNDS"); do
            cr() {
                [[ " $JOBS " == *" read "* ]] && run_job cr_read "$CHURNRISK" -q check --events "$E" "${users[@]}"
                [[ " $JOBS " == *" train "* ]] && run_job cr_train "$CHURNRISK" -q train --events "$E" "${users[@]}" \
                    --as-of "$as_of" --model "$WORK/model.json" --alpha 1e-6
                [[ " $JOBS " == *" score "* ]] && run_job cr_score "$CHURNRISK" -q score --events "$E" "${users[@]}" \
                    --as-of "$as_of" --model "$dir/model.json" --out "$WORK/at_risk.csv"
                if [[ " $JOBS " == *" run "* ]]; then
                    rm -rf "$WORK/night"; mkdir -p "$WORK/night"
                    {
                        echo "as_of = \"$as_of\""
                        echo "[inputs]"
                        echo "events = \"$E\""
                        [[ -s $dir/users.csv ]] && echo "users = \"$dir/users.csv\""
                        echo "features = \"$ROOT/features/default.toml\""
                        echo "[model]"
                        echo "path = \"$WORK/night/model.json\""
                        echo "[output]"
                        echo "dir = \"$WORK/night/out\""
                    } >"$WORK/night/night.toml"
                    run_job cr_run "$CHURNRISK" -q run --config "$WORK/night/night.toml" --retrain
                fi
                true
            }
            pd() {
                [[ " $JOBS " == *" train "* ]] && run_job pd_train "$PY" bench/speed_pandas.py --mode train --events "$E" "${users[@]}" \
                    --as-of "$as_of" --mem-cap-gb "$MEM_CAP_GB" --save-model "$WORK/pandas_model.json"
                local model=()
                [[ -s $WORK/pandas_model.json ]] && model=(--model-json "$WORK/pandas_model.json")
                [[ " $JOBS " == *" score "* ]] && run_job pd_score "$PY" bench/speed_pandas.py --mode score --events "$E" "${users[@]}" \
                    --as-of "$as_of" --mem-cap-gb "$MEM_CAP_GB" "${model[@]}" --out "$WORK/pandas_at_risk.csv"
                true
            }
            if (( round % 2 == 1 )); then cr; pd; else pd; cr; fi
        done
        "$PY" - "$shape" "$size" "$fmt" "$E" "$WORK" <<'PYEOF' | tee -a "$OUT"
import os, statistics, sys
from pathlib import Path
shape, size, fmt, events, work = sys.argv[1:6]
work = Path(work)
def runs(name):
    f = work / f"{name}.time"
    if not f.exists():
        return None
    lines = [l.split() for l in f.read_text().splitlines()]
    if any(l == ["fail"] for l in lines):
        return "failed"
    return [(float(l[0]), float(l[1]) / 1024) for l in lines if len(l) == 2 and l[0][0].isdigit()]
def med(r):
    return statistics.median(w for w, _ in r)
def peak(r):
    return max(m for _, m in r)
def cell(r):
    if r is None:
        return "-"
    if r == "failed":
        return "failed (see " + str(work) + ")"
    walls = ", ".join(f"{w:.2f}" for w, _ in r)
    return f"{med(r):.2f} s ({walls}) / {peak(r):,.0f} MB"
mb = os.path.getsize(events) / 1e6
# a gzip file's rate is of the text it holds (the .csv beside it)
text_mb = os.path.getsize(events[:-3]) / 1e6 if events.endswith(".gz") and os.path.exists(events[:-3]) else mb
rd, cs, ps, ct, pt, cr = (runs(n) for n in ("cr_read", "cr_score", "pd_score", "cr_train", "pd_train", "cr_run"))
ok = lambda *r: all(isinstance(x, list) and x for x in r)
read = f"{cell(rd)} ({text_mb / med(rd):.0f} MB/s)" if ok(rd) else cell(rd)
ratio = f"{med(ps) / med(cs):.1f}x" if ok(cs, ps) else "-"
rss = f"{peak(cs) / peak(ps):.2f}" if ok(cs, ps) else "-"
if ok(ct, cs, pt, ps):
    c, p = med(ct) + med(cs), med(pt) + med(ps)
    ts = f"{c:.2f} s / {max(peak(ct), peak(cs)):,.0f} MB"
    tp = f"{p:.2f} s / {max(peak(pt), peak(ps)):,.0f} MB"
    tr = f"{p / c:.1f}x"
else:
    ts, tp, tr = cell(ct), cell(pt), "-"
night = "-"
if ok(cr, pt, ps):
    night = f"{cell(cr)} ({(med(pt) + med(ps)) / med(cr):.1f}x)"
elif cr is not None:
    night = cell(cr)
print(f"| {shape} | {size} | {fmt} | {mb:,.0f} | {read} | {cell(cs)} | {cell(ps)} | {ratio} | {rss} | {ts} | {tp} | {tr} | {night} |")
PYEOF
    done
  done
done
echo "written to $OUT" >&2
