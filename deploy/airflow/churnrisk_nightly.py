"""churnrisk's night on Airflow 3: check → train (when due) → score × n shards → merge → publish.

One DAG run is one night. Every step is the `churnrisk` binary run as a subprocess (it
must be on the worker, or named by the `churnrisk` parameter), so the DAG adds nothing
to the scores: the published list is byte for byte the list one unsharded
`churnrisk score` writes (`deploy/check.sh` compares them).

    check   `churnrisk check --shard 1/n` reads every file of the log (a damaged file or a
            missing column fails here, before any shard starts; only shard 1's rows are
            kept, so it needs one worker's memory). On a scheduled night (no `as_of` in
            the run's conf) it is `check --night <as-of>`, which refuses a late log as a
            nightly `churnrisk run` does (exit 5: no event on the days right before the
            night, beyond `max_missing_days`); a night given its date is only warned
            about. Then the night's plan is made: the as-of date, the shards, the
            staging folder, and whether the model is due for retraining (see RETRAIN
            POLICY below).
    train   skipped unless the policy says so; then `churnrisk train --shard 1/k` trains
            on a user-hash sample (1/k of the users, each with their whole history) into
            the staging folder.
    score   mapped over the shards (`.expand(shard=[1..n])`): `churnrisk score --shard i/n`
            writes staging/parts/part-i.jsonl (written to a temporary name and renamed:
            a killed worker leaves no part, only a temporary file its retry removes).
    merge   `churnrisk merge` of the n parts into staging/at_risk.csv; it checks that the
            parts are one complete run (same as-of, model, features; every shard once).
    publish runs only when every task before it succeeded: renames the list over
            <out>/at_risk.csv (one atomic rename on the same file system), writes
            <out>/night.json, then puts a model trained tonight in its place. Until then
            the output folder holds yesterday's night.

EXIT CODES → TASK OUTCOMES (README "Exit codes")

    0                       success
    6 busy (lock held)      retry (AirflowException): the holder finishes and releases it
    7 output not written    retry: a full disk or a flaky mount may be gone next try
    1 internal error        retry (then failed): a crash may be a passing condition
    killed by a signal      retry: an OOM kill, an evicted or preempted worker
    2 usage, 3 bad input,   failed at once, no retry (AirflowFailException): the same
    4 bad configuration     files give the same answer on every try
    5 refused               failed at once, no retry: too little data to train or score
                            responsibly, the night publishes nothing (as `run` does)
    policy: model is fresh  train is skipped (AirflowSkipException); score runs
                            (trigger rule none_failed) with the kept model

A failure anywhere before publish leaves publish `upstream_failed`: nothing is
published, yesterday's list stays, and this night's staging folder
(<out>/.staging/<run id>/) is kept for inspection.

RETRAIN POLICY: the one `churnrisk run` applies (README "When it retrains"), read from
the model file because the CLI has no "is it due?" command. The model is retrained when
there is none; when its `format_version` is not 2; when its churn definition (`label`:
definition, horizon, active days, signal) differs from this DAG's parameters; when its
`training.as_of` is more than `max_age_days` before tonight's as-of date; when it was
trained after tonight's as-of date (a backfill: trained into
`<model>.backfill-<date>.json`, the production model stays); when the feature file's
SHA-256 differs from the one this DAG recorded beside the model when it trained it
(`<model>.features.sha256`; `run` compares the definitions' own fingerprint, which the
CLI does not print — a model trained elsewhere has no record, and a feature file that
no longer fits it makes every shard fail with exit 4: trigger with `retrain: true`); or
when the `retrain` parameter is true. Unlike `run`, drift does not trigger retraining
here (it is measured while scoring, which the shards do separately): watch it with
`churnrisk report` and trigger with `retrain: true`.

Deployment defaults come from the environment of the DAG processor (CHURNRISK_EVENTS,
CHURNRISK_USERS, CHURNRISK_FEATURES, CHURNRISK_MODEL, CHURNRISK_OUT, CHURNRISK_SHARDS,
CHURNRISK_BIN, CHURNRISK_RETRIES, CHURNRISK_RETRY_DELAY_SECONDS); each is a DAG
parameter a run can override (`airflow dags trigger --conf '{...}'`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

log = logging.getLogger(__name__)

DAG_ID = "churnrisk_nightly"
MODEL_FORMAT = 2  # the model file format this churnrisk reads (README "Model")

# Exit codes (README "Exit codes"): which are worth another try and which are not.
RETRYABLE = {
    1: "internal error",
    6: "busy: another run holds the lock on the output folder",
    7: "an output could not be written",
}
PERMANENT = {
    2: "usage error",
    3: "bad input data",
    4: "bad configuration",
    5: "refused: too little data to train or score responsibly",
}


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _csv_rows(path: Path) -> int:
    """Data rows of a CSV file (quoted line breaks included)."""
    with open(path, newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Temporary file beside `path`, synced, renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.dag.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _place(src: Path, dst: Path) -> None:
    """Moves `src` to `dst` atomically: a rename on one file system, else a copy beside
    `dst` renamed over it."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dst)
    except OSError:
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.dag.tmp")
        shutil.copyfile(src, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
        src.unlink()
    _fsync_dir(dst.parent)


def _vm_hwm_kb(pid: int) -> int:
    """A running process's peak resident memory so far (kB), 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def churnrisk(params: dict, *args: str) -> str:
    """Runs churnrisk and maps its exit code to the task's outcome; returns its stdout."""
    cmd = [params["churnrisk"], *args]
    log.info("running %s", " ".join(cmd))
    started = time.monotonic()
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f)
        peak_kb = 0
        try:
            while True:
                # The worker's peak memory, for sizing workers and pods: its VmHWM, read
                # while it runs (wait4's ru_maxrss would report this Airflow process's size,
                # which the child inherits at fork).
                peak_kb = max(peak_kb, _vm_hwm_kb(proc.pid))
                pid, status = os.waitpid(proc.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.02)
        except BaseException:
            # The task is being stopped (timeout, marked failed): do not leave the worker behind.
            proc.kill()
            proc.wait()
            raise
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
        out_f.seek(0)
        err_f.seek(0)
        out = out_f.read().decode(errors="replace")
        err = err_f.read().decode(errors="replace")
    seconds = time.monotonic() - started
    for line in out.splitlines():
        log.info("stdout: %s", line)
    for line in err.splitlines():
        log.info("stderr: %s", line)
    log.info("churnrisk %s: exit %s after %.2f s, peak RSS %d MB (VmHWM, read every 20 ms)", args[0], rc, seconds,
             peak_kb // 1024)
    if rc == 0:
        return out
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if rc < 0:
        raise AirflowException(f"churnrisk {args[0]} was killed by signal {-rc} (an OOM kill, an evicted or stopped worker?)")
    if rc in PERMANENT:
        raise AirflowFailException(
            f"churnrisk {args[0]} exit {rc} ({PERMANENT[rc]}): {last} — not retried"
        )
    meaning = RETRYABLE.get(rc, "unknown exit code")
    raise AirflowException(f"churnrisk {args[0]} exit {rc} ({meaning}): {last}")


def input_args(params: dict) -> list[str]:
    """The input flags every reading command shares."""
    args = ["--events", params["events"], "--features", params["features"]]
    if params.get("users"):
        args += ["--users", params["users"]]
    if params.get("subscriptions"):
        args += ["--subscriptions", params["subscriptions"]]
    return args


def wanted_label(params: dict) -> dict:
    """The churn definition this night asks for, as the model file writes it."""
    return {
        "definition": "subscription" if params.get("subscriptions") else "inactivity",
        "horizon_days": int(params["horizon_days"]),
        "active_days": int(params["active_days"]),
        "signal": params["churn_signal"],
    }


def features_record(model: Path) -> Path:
    return model.with_name(model.name + ".features.sha256")


def retrain_reason(params: dict, as_of: dt.date) -> tuple[str | None, Path]:
    """`run`'s retrain policy from the model file (see the module doc): the reason to
    retrain or None, and where a model trained tonight goes."""
    model = Path(params["model"])
    if params.get("retrain"):
        return "asked to (retrain: true)", model
    if not model.is_file():
        return "no model yet", model
    try:
        m = json.loads(model.read_text())
        version = m.get("format_version")
        label = m["label"]
        trained = dt.date.fromisoformat(m["training"]["as_of"][:10])
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"the model file cannot be read as a churnrisk model ({e})", model
    if version != MODEL_FORMAT:
        return f"the model file is format {version}, this churnrisk reads {MODEL_FORMAT}", model
    record = features_record(model)
    features = _sha256(Path(params["features"]))
    if record.is_file() and record.read_text().strip() != features:
        return f"the feature definitions changed since the model was trained ({params['features']})", model
    if label != wanted_label(params):
        return f"the churn definition changed: the model has {label}, the night asks for {wanted_label(params)}", model
    age = (as_of - trained).days
    if age > int(params["max_age_days"]):
        return (
            f"the model was trained as of {trained}, {age} days before this night "
            f"(limit {params['max_age_days']})"
        ), model
    if age < 0:
        backfill = model.with_name(f"{model.stem}.backfill-{as_of}{model.suffix}")
        if backfill.is_file():
            return None, backfill
        return f"the model was trained as of {trained}, after this night's as-of date (a backfill)", backfill
    return None, model


@dag(
    dag_id=DAG_ID,
    description="churnrisk's nightly at-risk list: check, train when due, score by shards, merge, publish",
    schedule=_env("CHURNRISK_SCHEDULE", "15 2 * * *"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # one night at a time writes the output folder
    default_args={
        "retries": int(_env("CHURNRISK_RETRIES", "2")),
        "retry_delay": dt.timedelta(seconds=int(_env("CHURNRISK_RETRY_DELAY_SECONDS", "300"))),
        "execution_timeout": dt.timedelta(hours=4),
    },
    params={
        "events": Param(_env("CHURNRISK_EVENTS", "/data/events"), type="string",
                        description="the event log: a hive-partitioned Parquet folder (date=YYYY-MM-DD/…parquet)"),
        "users": Param(_env("CHURNRISK_USERS", ""), type="string",
                       description="users table (CSV: user_id, signup_at, CRM columns); empty for none"),
        "subscriptions": Param(_env("CHURNRISK_SUBSCRIPTIONS", ""), type="string",
                               description="subscriptions table; switches to the subscription churn definition"),
        "features": Param(_env("CHURNRISK_FEATURES", "/etc/churnrisk/features.toml"), type="string"),
        "model": Param(_env("CHURNRISK_MODEL", "/data/churnrisk/model.json"), type="string"),
        "out": Param(_env("CHURNRISK_OUT", "/data/churnrisk/out"), type="string",
                     description="output folder: at_risk.csv and night.json are published here"),
        "shards": Param(int(_env("CHURNRISK_SHARDS", "8")), type="integer", minimum=1, maximum=1024),
        "train_sample": Param(int(_env("CHURNRISK_TRAIN_SAMPLE", "8")), type="integer", minimum=1,
                              description="train on the user-hash sample --shard 1/k"),
        "as_of": Param("", type="string",
                       description="YYYY-MM-DD; empty: the day the run's data interval ends (00:00 UTC)"),
        "max_missing_days": Param(int(_env("CHURNRISK_MAX_MISSING_DAYS", "0")), type="integer", minimum=0,
                                  description="days right before a scheduled night that may have no event "
                                              "(0: the log must reach the day before the night)"),
        "max_age_days": Param(28, type="integer", minimum=0),
        "horizon_days": Param(28, type="integer", minimum=1),
        "active_days": Param(28, type="integer", minimum=1),
        "churn_signal": Param("value_action", enum=["value_action", "any_event"]),
        "retrain": Param(False, type="boolean"),
        "churnrisk": Param(_env("CHURNRISK_BIN", "churnrisk"), type="string",
                           description="the churnrisk binary on the worker"),
    },
    tags=["churnrisk"],
)
def churnrisk_nightly():
    @task
    def check() -> dict:
        ctx = get_current_context()
        params = ctx["params"]
        if params["as_of"]:
            as_of = dt.date.fromisoformat(params["as_of"])
            # A date given is a night run on purpose (a backfill, a rerun): a late log is
            # warned about below, not refused.
            late = []
        else:
            end = ctx.get("data_interval_end") or ctx["dag_run"].run_after
            as_of = end.astimezone(dt.timezone.utc).date()
            # A scheduled night refuses a late log (exit 5), as a nightly `churnrisk run`.
            late = ["--night", as_of.isoformat(), "--max-missing-days", str(params["max_missing_days"])]
        # Every file is read (a damaged or missing file, a missing column fail here), but
        # only shard 1's rows are kept: the check needs a worker's memory, not the whole
        # log's. Each score task checks its own shard's rows as it reads them.
        out = churnrisk(params, "check", *input_args(params), "--shard", f"1/{params['shards']}", *late)
        summary = re.search(r"(\d+) events? of (\d+) users?.*?(\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2})", out)
        if summary and not late:
            last = dt.date.fromisoformat(summary.group(4))
            if (as_of - last).days >= 2:
                log.warning("the log's last event is on %s, %d days before this night (%s): is the export late?",
                            last, (as_of - last).days, as_of)
        reason, model = retrain_reason(params, as_of)
        run = re.sub(r"[^A-Za-z0-9_.-]", "_", ctx["run_id"])
        staging = Path(params["out"]) / ".staging" / run
        (staging / "parts").mkdir(parents=True, exist_ok=True)
        log.info("night as of %s, %d shards, staging %s; model %s: %s", as_of, params["shards"],
                 staging, model, f"retrain ({reason})" if reason else "kept")
        return {
            "as_of": as_of.isoformat(),
            "shards": list(range(1, int(params["shards"]) + 1)),
            "staging": str(staging),
            "model": str(model),
            "retrain_reason": reason or "",
            "events": int(summary.group(1)) if summary else None,
        }

    @task
    def train(night: dict) -> str:
        params = get_current_context()["params"]
        if not night["retrain_reason"]:
            raise AirflowSkipException(f"model {night['model']} kept (the retrain policy does not ask for one)")
        staged = Path(night["staging"]) / "model.json"
        k = int(params["train_sample"])
        log.info("training (%s) on the user-hash sample 1/%d", night["retrain_reason"], k)
        args = ["train", *input_args(params), "--as-of", night["as_of"], "--model", str(staged),
                "--horizon-days", str(params["horizon_days"]),
                "--active-days", str(params["active_days"]),
                "--churn-signal", params["churn_signal"].replace("_", "-")]
        if k > 1:
            args += ["--shard", f"1/{k}"]
        churnrisk(params, *args)
        return str(staged)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def score(shard: int, night: dict, trained: str | None) -> str:
        params = get_current_context()["params"]
        model = trained or night["model"]
        n = len(night["shards"])
        part = Path(night["staging"]) / "parts" / f"part-{shard}.jsonl"
        churnrisk(params, "score", *input_args(params), "--model", model, "--as-of", night["as_of"],
                  "--shard", f"{shard}/{n}", "--out", str(part))
        return str(part)

    @task
    def merge(parts: list[str], night: dict) -> str:
        params = get_current_context()["params"]
        merged = Path(night["staging"]) / "at_risk.csv"
        churnrisk(params, "merge", *sorted(parts), "--out", str(merged))
        return str(merged)

    @task(trigger_rule=TriggerRule.NONE_FAILED)  # train may be skipped; any failure stops it
    def publish(merged: str, night: dict, trained: str | None) -> dict:
        ctx = get_current_context()
        params = ctx["params"]
        out = Path(params["out"])
        staging = Path(night["staging"])
        journal = staging / "publish.json"
        staged_list = Path(merged)
        target = out / "at_risk.csv"
        # The journal makes a retried publish safe: it names what is being published,
        # so a try that finds the list already renamed goes on from there.
        if journal.is_file():
            record = json.loads(journal.read_text())
        else:
            model_used = trained or night["model"]
            record = {
                "as_of": night["as_of"],
                "run_id": ctx["run_id"],
                "shards": len(night["shards"]),
                "list": "at_risk.csv",
                "list_sha256": _sha256(staged_list),
                "list_rows": _csv_rows(staged_list),
                "model": night["model"],
                "model_sha256": _sha256(Path(model_used)),
                "retrained": bool(trained),
                "retrain_reason": night["retrain_reason"] or None,
            }
            _write_atomic(journal, json.dumps(record, indent=2).encode())
        if staged_list.is_file():
            _place(staged_list, target)
        elif not (target.is_file() and _sha256(target) == record["list_sha256"]):
            raise AirflowFailException(f"{staged_list} is gone and {target} is not tonight's list")
        record["published_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        _write_atomic(out / "night.json", json.dumps(record, indent=2).encode() + b"\n")
        # As `run` does: a model trained tonight goes in place after the list.
        if trained and Path(trained).is_file():
            model = Path(night["model"])
            _place(Path(trained), model)
            _write_atomic(features_record(model), (_sha256(Path(params["features"])) + "\n").encode())
        # Published: a staging folder that will not go away is no reason to fail the night.
        shutil.rmtree(staging, ignore_errors=True)
        log.info("published %s (%d rows, as of %s, sha256 %s)", target, record["list_rows"], record["as_of"],
                 record["list_sha256"])
        return record

    @task
    def shards(night: dict) -> list[int]:
        """The shard numbers to map `score` over (Airflow maps over a task's whole return value)."""
        return night["shards"]

    night = check()
    trained = train(night)
    parts = score.partial(night=night, trained=trained).expand(shard=shards(night))
    merged = merge(parts, night)
    publish(merged, night, trained)


churnrisk_nightly()
