#!/usr/bin/env bash
# deploy/check.sh — the orchestration files, run rather than described (`.ci/run` runs it).
#
#  1. churnrisk: target/debug/churnrisk as `cargo test` builds it (`cargo test --no-run`, the
#     same build .ci/run's `cargo test` then runs; `cargo build` would recompile polars, because
#     the dev-dependencies change the features of shared crates), or $CHURNRISK=/path/to/binary.
#  2. A venv in deploy/.venv with apache-airflow, duckdb and kubernetes-validate from PyPI,
#     pinned by deploy/airflow/constraints-3.3.2-python3.11.txt (reused while it matches).
#  3. A generated log split into hive partitions (events/date=YYYY-MM-DD/*.parquet).
#  4. `airflow dags test churnrisk_nightly` (SQLite metadata DB in a temporary
#     AIRFLOW_HOME), five nights:
#       1. no model yet: check → train on a 1/2 user sample → score × 4 → merge → publish;
#          the published list must be byte-identical to one unsharded `churnrisk score`;
#       2. the next night, shard 3's worker killed (SIGKILL) while writing its part: at
#          the kill the output folder must still hold night 1, the task must be retried by
#          Airflow and the night must publish the unsharded list; no temporary file left;
#       3. a damaged partition file: `check` fails (exit 3, no retry), nothing runs after it
#          and the output folder is unchanged;
#       4. a model that cannot score: every shard fails (exit 4, no retry), merge and
#          publish do not run, the output folder is unchanged;
#       5. a scheduled night (no as_of) on a log whose last day is missing: `check --night`
#          refuses it (exit 5, no retry), nothing published.
#  5. deploy/k8s: every manifest validated against the Kubernetes schema (bundled in
#     kubernetes-validate, offline) and broken copies refused; then the CronJob's driver
#     (night.sh) runs four nights with kubectl replaced by local_kubectl.py, which runs each
#     Job's own container command here as the kubelet would: no model → check, train,
#     score ×8, merge (list = unsharded score); model kept (same); a model that cannot score
#     → the first shard's exit 4 fails the Job, no merge, output folder unchanged; a
#     scheduled night (no AS_OF; the driver's clock is a `date` stand-in) on a late log →
#     the check Job's exit 5, no other Job, output folder unchanged.
#
# Exits non-zero at the first mismatch; ends with "deploy/check.sh: N passed, 0 failed".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
AIRFLOW_VERSION=3.3.2
PY_VERSION=3.11
CONSTRAINTS=deploy/airflow/constraints-$AIRFLOW_VERSION-python$PY_VERSION.txt
VENV=deploy/.venv
W=$ROOT/deploy/.check # scratch, ignored by git, made anew each run
PASSED=0

say() { printf '\n== [%3ds] %s\n' "$SECONDS" "$*"; }
ok() { PASSED=$((PASSED + 1)); echo "   ok: $*"; }
fail() {
    echo "   FAIL: $*" >&2
    echo "deploy/check.sh: $PASSED passed, 1 failed"
    exit 1
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# The output folder's published files with their SHA-256 (the staging folder aside).
snapshot() { (cd "$1" && find . -path ./.staging -prune -o -type f -print | LC_ALL=C sort | xargs -r sha256sum); }

# --- 1. churnrisk -------------------------------------------------------------------------
if [ -n "${CHURNRISK:-}" ]; then
    BIN=$(realpath "$CHURNRISK")
    say "churnrisk: $BIN (from \$CHURNRISK)"
else
    say "cargo test --no-run (the debug binary cargo test builds and its tests run)"
    cargo test --no-run
    TARGET=${CARGO_TARGET_DIR:-target}
    BIN=$(realpath "$TARGET/debug/churnrisk")
fi
[ -x "$BIN" ] || fail "no churnrisk binary at $BIN"
"$BIN" --version

# --- 2. the venv --------------------------------------------------------------------------
PYTHON=$(command -v "python$PY_VERSION" || command -v python3 || true)
[ -n "$PYTHON" ] || fail "no python3 on PATH"
"$PYTHON" -c "import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)" \
    || fail "$CONSTRAINTS pins packages for Python $PY_VERSION; $PYTHON is $("$PYTHON" --version)"
STAMP="$VENV/.check-stamp"
WANT="$AIRFLOW_VERSION $(sha "$CONSTRAINTS")"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && "$VENV/bin/airflow" version >/dev/null 2>&1; then
    say "venv $VENV: apache-airflow $AIRFLOW_VERSION already installed from $CONSTRAINTS"
else
    say "venv $VENV: installing apache-airflow $AIRFLOW_VERSION from PyPI (pinned by $CONSTRAINTS)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    t0=$SECONDS
    "$VENV/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check \
        "apache-airflow==$AIRFLOW_VERSION" "duckdb==2.0.1" "kubernetes-validate==1.37.0" \
        --constraint "$CONSTRAINTS"
    "$VENV/bin/pip" check
    echo "   pip install took $((SECONDS - t0)) s"
    echo "$WANT" >"$STAMP"
fi
VPY="$VENV/bin/python"
[ "$("$VENV/bin/airflow" version 2>/dev/null | tail -1)" = "$AIRFLOW_VERSION" ] || fail "airflow version is not $AIRFLOW_VERSION"
ok "apache-airflow $AIRFLOW_VERSION in $VENV"

# --- 3. the log ---------------------------------------------------------------------------
rm -rf "$W"
mkdir -p "$W"
say "generating a log (3000 users, 182 days) and splitting it into hive partitions"
"$BIN" -q generate --out "$W/gen" --users 3000 --days 182 --seed 23 --format parquet
"$VPY" - "$W/gen/events.parquet" "$W/events" <<'EOF'
import sys, duckdb
src, dst = sys.argv[1:]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"""COPY (SELECT *, strftime(timestamp, '%Y-%m-%d') AS date FROM read_parquet('{src}'))
            TO '{dst}' (FORMAT parquet, PARTITION_BY (date))""")
one = lambda q: con.execute(q).fetchall()[0][0]
rows = one(f"SELECT count(*) FROM read_parquet('{src}')")
back = one(f"SELECT count(*) FROM read_parquet('{dst}/*/*.parquet')")
parts = one(f"SELECT count(DISTINCT filename) FROM read_parquet('{dst}/*/*.parquet', filename=true)")
print(f"   {rows} events → {parts} partition files, {back} rows read back")
sys.exit(0 if rows == back and parts > 100 else 1)
EOF
ls "$W/events" | head -2
ok "hive-partitioned log in $W/events"

# --- 4. Airflow ---------------------------------------------------------------------------
export AIRFLOW_HOME="$W/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/deploy/airflow"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS=True
export CHURNRISK_RETRIES=2 CHURNRISK_RETRY_DELAY_SECONDS=1
say "airflow db migrate (SQLite in $AIRFLOW_HOME)"
"$VENV/bin/airflow" db migrate >"$W/db-migrate.log" 2>&1 || { tail -20 "$W/db-migrate.log"; fail "airflow db migrate"; }

OUT="$W/out"
MODEL="$W/model/model.json"
FEATURES="$ROOT/features/default.toml"
USERS="$W/gen/users.csv"
conf() { # events as_of
    "$VPY" -c 'import json, sys; e, a, out, model, feat, users, binary = sys.argv[1:]
print(json.dumps({"events": e, "as_of": a, "out": out, "model": model, "features": feat, "users": users,
                  "shards": 4, "train_sample": 2, "churnrisk": binary}))' \
        "$1" "$2" "$OUT" "$MODEL" "$FEATURES" "$USERS" "$BIN"
}
night() { # name date events [as_of] → runs `airflow dags test` for the logical date; the conf's
    # as_of is the date unless given ("": a scheduled night); log in $W/<name>.log; returns its exit code
    local t0=$SECONDS rc=0
    "$VENV/bin/airflow" dags test churnrisk_nightly "$2T02:15:00+00:00" -c "$(conf "$3" "${4-$2}")" \
        >"$W/$1.log" 2>&1 || rc=$?
    echo "   airflow dags test ($1, as of $2): exit $rc after $((SECONDS - t0)) s; log $W/$1.log"
    return $rc
}
# The task instances of the last DAG run, and tries before the last from the history table.
tasks() {
    "$VPY" - "$AIRFLOW_HOME/airflow.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
run, state = db.execute("SELECT run_id, state FROM dag_run ORDER BY id DESC LIMIT 1").fetchone()
print(f"   dag run {run}: {state}")
history = {}
for task, idx, tries, st in db.execute(
        "SELECT task_id, map_index, try_number, state FROM task_instance_history WHERE run_id = ?", (run,)):
    history.setdefault((task, idx), []).append(f"try {tries} {st}")
for task, idx, tries, st, dur in db.execute(
        "SELECT task_id, map_index, try_number, state, duration FROM task_instance WHERE run_id = ? "
        "ORDER BY start_date IS NULL, start_date", (run,)):
    name = task if idx < 0 else f"{task}[{idx}]"
    past = "; earlier: " + ", ".join(history[(task, idx)]) if (task, idx) in history else ""
    took = f"{dur:.2f} s" if dur is not None else "-"
    print(f"   {name:10} {str(st):16} try {tries}  {took}{past}")
EOF
}
# state of task[map_index] in the last run, and its try number: "success 2"
ti() {
    "$VPY" - "$AIRFLOW_HOME/airflow.db" "$1" "$2" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
run = db.execute("SELECT run_id FROM dag_run ORDER BY id DESC LIMIT 1").fetchone()[0]
row = db.execute("SELECT state, try_number FROM task_instance WHERE run_id = ? AND task_id = ? AND map_index = ?",
                 (run, sys.argv[2], int(sys.argv[3]))).fetchone()
print(f"{row[0]} {row[1]}" if row else "missing")
EOF
}
run_state() { "$VPY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT state FROM dag_run ORDER BY id DESC LIMIT 1").fetchone()[0])' "$AIRFLOW_HOME/airflow.db"; }
reference() { # as_of out: one unsharded score with the published model
    "$BIN" -q score --events "$W/events" --users "$USERS" --features "$FEATURES" --model "$MODEL" \
        --as-of "$1" --out "$2"
}

# Night 1: no model yet.
say "night 1 (2026-07-06): no model yet → train on a 1/2 user sample, 4 shards, merge, publish"
night night1 2026-07-06 "$W/events" || { tail -40 "$W/night1.log"; fail "night 1: airflow dags test failed"; }
tasks
[ "$(run_state)" = success ] || fail "night 1: the DAG run is not successful"
[ "$(ti train -1)" = "success 1" ] || fail "night 1: train did not run once ($(ti train -1))"
for i in 0 1 2 3; do [ "$(ti score $i)" = "success 1" ] || fail "night 1: score[$i] is $(ti score $i)"; done
reference 2026-07-06 "$W/reference-1.csv"
cmp "$OUT/at_risk.csv" "$W/reference-1.csv" || fail "night 1: the published list differs from the unsharded score"
ok "night 1: published list ($(($(wc -l <"$OUT/at_risk.csv") - 1)) users) is byte-identical to one unsharded score"
snapshot "$OUT" >"$W/after-night1.sha"

# Night 2: shard 3's worker killed while writing its part, then retried by Airflow.
# The debug build's CHURNRISK_FAULT_PAUSE holds the named file's atomic write for 8 s after
# its temporary file is written and synced, before the rename: the watcher below sees that
# temporary file (.part-3.jsonl.<pid>.churnrisk.tmp), records the output folder and kills
# the process named in it. The retry pauses too, and then renames.
say "night 2 (2026-07-07): shard 3's worker killed mid-write, Airflow retries it"
WATCH="$W/kill-watcher.txt"
(
    for _ in $(seq 1 3600); do
        tmp=$(find "$OUT/.staging" -name '.part-3.jsonl.*.churnrisk.tmp' 2>/dev/null | head -1)
        if [ -n "$tmp" ]; then
            pid=$(basename "$tmp" | sed -E 's/^\.part-3\.jsonl\.([0-9]+)\.churnrisk\.tmp$/\1/')
            {
                echo "temporary part: $tmp ($(stat -c %s "$tmp") bytes), worker pid $pid"
                echo "part-3.jsonl at the kill: $(ls "$(dirname "$tmp")"/part-3.jsonl 2>/dev/null || echo absent)"
                if diff <(snapshot "$OUT") "$W/after-night1.sha" >/dev/null; then
                    echo "output folder at the kill: night 1's files, unchanged"
                else
                    echo "output folder at the kill: CHANGED"
                fi
                echo "process: $(tr '\0' ' ' </proc/"$pid"/cmdline | cut -c1-120)"
            } >"$WATCH"
            kill -9 "$pid" && echo "killed with SIGKILL" >>"$WATCH"
            exit 0
        fi
        sleep 0.05
    done
    echo "no temporary part seen within 3 minutes" >"$WATCH"
) &
WATCHER=$!
CHURNRISK_FAULT_PAUSE=part-3.jsonl:8000 night night2 2026-07-07 "$W/events" \
    || { tail -40 "$W/night2.log"; fail "night 2: airflow dags test failed"; }
wait "$WATCHER"
sed 's/^/   watcher: /' "$WATCH"
tasks
grep -q "killed with SIGKILL" "$WATCH" || fail "night 2: the worker was not killed"
grep -q "part-3.jsonl at the kill: absent" "$WATCH" || fail "night 2: part 3 existed when its worker was killed"
grep -q "unchanged" "$WATCH" || fail "night 2: the output folder changed before the night completed"
ok "night 2: at the kill the worker had only a temporary part and the output folder held night 1"
grep -q "churnrisk score was killed by signal 9" "$W/night2.log" || fail "night 2: no killed try in the log"
[ "$(ti score 2)" = "success 2" ] || fail "night 2: score[2] (shard 3) is '$(ti score 2)', not success on try 2"
[ "$(ti train -1)" = "skipped 1" ] || fail "night 2: train was not skipped for a fresh model ($(ti train -1))"
[ "$(run_state)" = success ] || fail "night 2: the DAG run is not successful"
ok "night 2: shard 3 failed on try 1 (SIGKILL), succeeded on try 2; train skipped (model fresh)"
reference 2026-07-07 "$W/reference-2.csv"
cmp "$OUT/at_risk.csv" "$W/reference-2.csv" || fail "night 2: the published list differs from the unsharded score"
leftover=$(find "$OUT" -name '*.tmp')
[ -z "$leftover" ] || fail "night 2: temporary files left: $leftover"
ok "night 2: published list is byte-identical to one unsharded score; no temporary file left"
snapshot "$OUT" >"$W/after-night2.sha"

# Night 3: a damaged partition file (a truncated Parquet file): check fails, nothing else runs.
say "night 3 (2026-07-08): a damaged partition file → check fails (exit 3), nothing published"
cp -r "$W/events" "$W/events-damaged"
victim=$(find "$W/events-damaged" -name '*.parquet' | LC_ALL=C sort | sed -n 100p)
head -c 2000 "$victim" >"$victim.cut" && mv "$victim.cut" "$victim"
if night night3 2026-07-08 "$W/events-damaged"; then :; fi
tasks
[ "$(run_state)" = failed ] || fail "night 3: the DAG run did not fail"
[ "$(ti check -1)" = "failed 1" ] || fail "night 3: check is '$(ti check -1)', not failed on its first try"
grep -q "exit 3 (bad input data)" "$W/night3.log" || fail "night 3: no exit 3 in the log"
[ "$(ti publish -1)" = "upstream_failed 0" ] || fail "night 3: publish is '$(ti publish -1)'"
diff <(snapshot "$OUT") "$W/after-night2.sha" || fail "night 3: the output folder changed"
ok "night 3: check failed once (exit 3, not retried), publish upstream_failed, output folder unchanged"

# Night 4: a model file whose scale cannot score: every shard exits 4, nothing published.
say "night 4 (2026-07-09): a model that cannot score → every shard fails (exit 4), nothing published"
cp "$MODEL" "$W/model-good.json"
"$VPY" -c 'import json, sys; m = json.load(open(sys.argv[1])); m["features"][0]["std"] = 0.0; json.dump(m, open(sys.argv[1], "w"))' "$MODEL"
if night night4 2026-07-09 "$W/events"; then :; fi
cp "$W/model-good.json" "$MODEL"
tasks
[ "$(run_state)" = failed ] || fail "night 4: the DAG run did not fail"
for i in 0 1 2 3; do [ "$(ti score $i)" = "failed 1" ] || fail "night 4: score[$i] is '$(ti score $i)', not failed on try 1"; done
grep -q "exit 4 (bad configuration)" "$W/night4.log" || fail "night 4: no exit 4 in the log"
[ "$(ti merge -1)" = "upstream_failed 0" ] || fail "night 4: merge is '$(ti merge -1)'"
[ "$(ti publish -1)" = "upstream_failed 0" ] || fail "night 4: publish is '$(ti publish -1)'"
diff <(snapshot "$OUT") "$W/after-night2.sha" || fail "night 4: the output folder changed"
ok "night 4: every shard failed once (exit 4, not retried), merge and publish upstream_failed, output folder unchanged"

# Night 5: a scheduled night (no as_of: the data interval's end) on a log whose last day has
# not landed: check refuses it (exit 5, not retried), nothing published.
last_part=$(find "$W/events" -mindepth 1 -maxdepth 1 -name 'date=*' | LC_ALL=C sort | tail -1)
LAST_DAY=${last_part##*date=}
LATE_NIGHT=$(date -u -d "$LAST_DAY + 1 day" +%Y-%m-%d)
say "night 5 ($LATE_NIGHT, scheduled): the log's last day ($LAST_DAY) missing → check refuses (exit 5), nothing published"
mkdir -p "$W/events-late"
for p in "$W"/events/date=*; do [ "$p" = "$last_part" ] || ln -s "$p" "$W/events-late/"; done
if night night5 "$LATE_NIGHT" "$W/events-late" ""; then :; fi
tasks
[ "$(run_state)" = failed ] || fail "night 5: the DAG run did not fail"
[ "$(ti check -1)" = "failed 1" ] || fail "night 5: check is '$(ti check -1)', not failed on its first try"
grep -q "exit 5 (" "$W/night5.log" || fail "night 5: no exit 5 in the log"
grep -q "late log: the log's last event is on .*, so the day ($LAST_DAY) before this night ($LATE_NIGHT) has no event" \
    "$W/night5.log" || fail "night 5: no late-log message for the night $LATE_NIGHT in the log"
[ "$(ti publish -1)" = "upstream_failed 0" ] || fail "night 5: publish is '$(ti publish -1)'"
diff <(snapshot "$OUT") "$W/after-night2.sha" || fail "night 5: the output folder changed"
ok "night 5: a scheduled night on a late log: check failed once (exit 5, not retried), nothing published"

# --- 5. Kubernetes --------------------------------------------------------------------------
say "deploy/k8s: schema validation (kubernetes-validate $("$VENV/bin/kubernetes-validate" --version 2>&1 | tail -1), offline, --strict)"
mapfile -t MANIFESTS < <(find deploy/k8s -name '*.yaml' ! -name kustomization.yaml | LC_ALL=C sort)
[ "${#MANIFESTS[@]}" -ge 4 ] || fail "fewer than 4 manifests in deploy/k8s"
for k in 1.33.0 1.37.0; do
    "$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$k" "${MANIFESTS[@]}" \
        || fail "deploy/k8s does not validate against Kubernetes $k"
done
ok "${#MANIFESTS[@]} manifests valid against the Kubernetes 1.33 and 1.37 schemas (strict: no unknown fields)"
# The validator must refuse what is wrong: a field misspelled and a count given as text.
sed 's/completionMode: Indexed/completionMode: Indexed\n  complettions: 8/' deploy/k8s/score-shards-job.yaml >"$W/broken-1.yaml"
sed 's/parallelism: 8/parallelism: "eight"/' deploy/k8s/score-shards-job.yaml >"$W/broken-2.yaml"
for b in "$W/broken-1.yaml" "$W/broken-2.yaml"; do
    if "$VENV/bin/kubernetes-validate" --strict --quiet "$b" >/dev/null 2>&1; then
        fail "the validator accepted a broken manifest ($b)"
    fi
done
ok "the validator refuses a misspelled field and a count given as text"

say "deploy/k8s: the CronJob's driver (night.sh) and the Jobs' commands, run here by local_kubectl.py"
# kubectl is local_kubectl.py: `create -f -` runs the Job's container command on this machine
# as the kubelet would (one process per completion index, JOB_COMPLETION_INDEX set, retries
# and podFailurePolicy as the Job says); the volume churnrisk-data is $K8S/data.
K8S="$W/k8s"
mkdir -p "$K8S/data/churnrisk" "$K8S/config" "$K8S/bin"
ln -s "$W/events" "$K8S/data/events"
cp "$USERS" "$K8S/data/users.csv"
cp "$FEATURES" "$K8S/config/features.toml"
ln -s "$BIN" "$K8S/bin/churnrisk"
printf '#!/bin/sh\nexec "%s" "%s" kubectl "$@"\n' "$ROOT/$VPY" "$ROOT/deploy/k8s/local_kubectl.py" >"$K8S/bin/kubectl"
chmod +x "$K8S/bin/kubectl"
k8s_night() { # as_of ("": tonight, from the clock) [env...] → runs night.sh; its exit code
    env PATH="$K8S/bin:$PATH" LOCAL_KUBECTL_STATE="$K8S/state-${1:-scheduled}" \
        LOCAL_KUBECTL_VOLUMES="churnrisk-data=$K8S/data,churnrisk-config=$K8S/config" \
        AS_OF="$1" JOBS="$ROOT/deploy/k8s" DATA="$K8S/data" POLL_SECONDS=0 "${@:2}" \
        sh deploy/k8s/night.sh 2>&1 | sed 's/^/   /'
    return "${PIPESTATUS[0]}"
}
k8s_reference() { # as_of out
    "$BIN" -q score --events "$W/events" --users "$USERS" --features "$FEATURES" \
        --model "$K8S/data/churnrisk/model.json" --as-of "$1" --out "$2"
}
k8s_night 2026-07-06 || fail "K8s night 2026-07-06 failed"
grep -q "kubectl create" "$K8S/state-2026-07-06/calls.log" || fail "night.sh created no Job"
[ -f "$K8S/data/churnrisk/model.json" ] || fail "K8s night 1: no model published"
k8s_reference 2026-07-06 "$W/k8s-reference-1.csv"
cmp "$K8S/data/churnrisk/out/at_risk.csv" "$W/k8s-reference-1.csv" \
    || fail "K8s night 1: the published list differs from the unsharded score"
ok "K8s night 1 (no model): train Job (1/8 sample), Indexed Job (8 shards), merge Job; list byte-identical to the unsharded score"
k8s_night 2026-07-07 || fail "K8s night 2026-07-07 failed"
grep -q "churnrisk-train" "$K8S/state-2026-07-07/calls.log" && fail "K8s night 2 trained a fresh model"
k8s_reference 2026-07-07 "$W/k8s-reference-2.csv"
cmp "$K8S/data/churnrisk/out/at_risk.csv" "$W/k8s-reference-2.csv" \
    || fail "K8s night 2: the published list differs from the unsharded score"
ok "K8s night 2 (model kept): list byte-identical to the unsharded score"
snapshot "$K8S/data/churnrisk/out" >"$W/k8s-after-2.sha"
cp "$K8S/data/churnrisk/model.json" "$W/k8s-model-good.json"
"$VPY" -c 'import json, sys; m = json.load(open(sys.argv[1])); m["features"][0]["std"] = 0.0; json.dump(m, open(sys.argv[1], "w"))' \
    "$K8S/data/churnrisk/model.json"
touch -r "$W/k8s-model-good.json" "$K8S/data/churnrisk/model.json"
if k8s_night 2026-07-08; then fail "K8s night 3 succeeded with a model that cannot score"; fi
cp "$W/k8s-model-good.json" "$K8S/data/churnrisk/model.json"
grep -q "churnrisk-merge" "$K8S/state-2026-07-08/calls.log" && fail "K8s night 3 created the merge Job after a failed shard"
diff <(snapshot "$K8S/data/churnrisk/out") "$W/k8s-after-2.sha" || fail "K8s night 3 changed the output folder"
ok "K8s night 3 (model cannot score): exit 4 → FailJob on the first shard, no merge Job, output folder unchanged"
# A scheduled night (no AS_OF): tonight is the pod's clock, here a `date` that says two days
# after the log's last day ($LAST_DAY), so the day before tonight has no event: the check
# Job refuses the late log.
mkdir -p "$K8S/clock"
printf '#!/bin/sh\n[ "$*" = "-u +%%Y-%%m-%%d" ] && exec echo %s\nexec /bin/date "$@"\n' \
    "$(date -u -d "$LAST_DAY + 2 days" +%Y-%m-%d)" >"$K8S/clock/date"
chmod +x "$K8S/clock/date"
rc=0
k8s_night "" PATH="$K8S/clock:$K8S/bin:$PATH" >"$W/k8s-night4.log" || rc=$?
cat "$W/k8s-night4.log"
[ "$rc" -ne 0 ] || fail "K8s night 4 succeeded on a late log"
grep -q "late log: the log's last event is on $LAST_DAY, so the day" "$W/k8s-night4.log" \
    || fail "K8s night 4: the failed check's log does not say the log is late"
calls="$K8S/state-scheduled/calls.log"
grep -q "churnrisk-check-" "$calls" || fail "K8s night 4: no check Job"
grep -Eq "churnrisk-(train|score|merge)-" "$calls" && fail "K8s night 4 created a Job after the refused check"
diff <(snapshot "$K8S/data/churnrisk/out") "$W/k8s-after-2.sha" || fail "K8s night 4 changed the output folder"
ok "K8s night 4 (scheduled, log late by a day): the check Job's exit 5 → FailJob, no other Job, output folder unchanged"

say "summary"
echo "deploy/check.sh: all $PASSED checks passed"
