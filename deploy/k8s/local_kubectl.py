"""A stand-in for kubectl and the kubelet, for deploy/check.sh: runs this folder's Jobs on
this machine, as a cluster would run their containers, so that their shell commands and
night.sh are tested and not only read.

What it does as a cluster would: the container's command and args run with the
container's env; an Indexed Job runs one process per completion index with
JOB_COMPLETION_INDEX set; a failed pod is retried up to backoffLimit (backoffLimitPerIndex
for an Indexed Job), except that a podFailurePolicy FailJob rule on its exit code fails
the Job at once; maxFailedIndexes 0 fails the Job on one failed index. What it does not:
images, scheduling, parallel pods (indexes run one after the other), resource limits.
Volumes are local folders: an env value that starts with a volume's mountPath is moved
to the folder given for that volume's claim or ConfigMap (--volume NAME=DIR).

    local_kubectl.py run --volume churnrisk-data=DIR ... JOB.yaml...   (placeholders replaced
                                                                    with --night first)
    local_kubectl.py kubectl ARGS...  the subset of kubectl night.sh uses (create -f -,
                                      get job -o jsonpath, delete job, logs); volumes from
                                      LOCAL_KUBECTL_VOLUMES="NAME=DIR,NAME=DIR", state in
                                      LOCAL_KUBECTL_STATE
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml


def log(msg: str) -> None:
    print(f"   [local k8s] {msg}", file=sys.stderr, flush=True)


def container_env(job: dict, container: dict, volumes: dict[str, str]) -> dict[str, str]:
    """The process environment of `container`: ours (PATH finds churnrisk) plus its env,
    with mount paths moved to the local folders."""
    pod = job["spec"]["template"]["spec"]
    local_of_volume = {}
    for v in pod.get("volumes", []):
        source = (v.get("persistentVolumeClaim") or {}).get("claimName") or (v.get("configMap") or {}).get("name")
        if source not in volumes:
            raise SystemExit(f"no local folder for volume {v['name']} ({source}): pass --volume {source}=DIR")
        local_of_volume[v["name"]] = volumes[source]
    mounts = {m["mountPath"]: local_of_volume[m["name"]] for m in container.get("volumeMounts", [])}
    env = dict(os.environ)
    for e in container.get("env", []):
        value = str(e["value"])
        for path, local in mounts.items():
            if value == path or value.startswith(path + "/"):
                value = local + value[len(path):]
        env[e["name"]] = value
    return env


def fail_job_codes(job: dict, container: str) -> set[int]:
    codes: set[int] = set()
    for rule in (job["spec"].get("podFailurePolicy") or {}).get("rules", []):
        on = rule.get("onExitCodes")
        if rule["action"] == "FailJob" and on and on.get("containerName", container) == container:
            if on["operator"] != "In":
                raise SystemExit("only operator In is supported here")
            codes |= set(on["values"])
    return codes


def run_job(job: dict, volumes: dict[str, str]) -> tuple[bool, str]:
    """Runs a Job to its end; returns whether it completed, and its pods' output."""
    name = job["metadata"]["name"]
    spec = job["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    command = list(container.get("command", [])) + list(container.get("args", []))
    env = container_env(job, container, volumes)
    fail_codes = fail_job_codes(job, container["name"])
    indexed = spec.get("completionMode") == "Indexed"
    completions = int(spec.get("completions", 1))
    if indexed and "SHARDS" in env and int(env["SHARDS"]) != completions:
        return False, f"{name}: env SHARDS={env['SHARDS']} but completions={completions}"
    retries = int(spec.get("backoffLimitPerIndex", 6) if indexed else spec.get("backoffLimit", 6))
    output = []
    failed_indexes = 0
    for index in range(completions if indexed else 1):
        pod_env = dict(env, JOB_COMPLETION_INDEX=str(index)) if indexed else env
        for attempt in range(retries + 1):
            proc = subprocess.run(command, env=pod_env, capture_output=True, text=True)
            pod = f"{name}" + (f" index {index}" if indexed else "") + f" try {attempt + 1}"
            output.append(f"--- {pod}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
            log(f"{pod}: exit {proc.returncode}")
            if proc.returncode == 0:
                break
            if proc.returncode in fail_codes:
                return False, "\n".join(output) + f"\n{name}: FailJob (exit {proc.returncode})"
        else:
            failed_indexes += 1
            if not indexed or failed_indexes > int(spec.get("maxFailedIndexes", completions)):
                return False, "\n".join(output) + f"\n{name}: backoff limit reached"
    return failed_indexes == 0, "\n".join(output)


def kubectl(args: list[str]) -> int:
    state = Path(os.environ["LOCAL_KUBECTL_STATE"])
    state.mkdir(parents=True, exist_ok=True)
    volumes = dict(v.split("=", 1) for v in os.environ["LOCAL_KUBECTL_VOLUMES"].split(","))
    with open(state / "calls.log", "a") as f:
        f.write("kubectl " + " ".join(args) + "\n")
    if args[:2] == ["delete", "job"]:
        (state / f"{args[2]}.json").unlink(missing_ok=True)
        return 0
    if args[:2] == ["create", "-f"] and args[2] == "-":
        job = yaml.safe_load(sys.stdin.read())
        if job.get("kind") != "Job":
            print(f"error: only Jobs here, not {job.get('kind')}", file=sys.stderr)
            return 1
        name = job["metadata"]["name"]
        print(f"job.batch/{name} created")
        ok, output = run_job(job, volumes)
        (state / f"{name}.json").write_text(json.dumps({"condition": "Complete" if ok else "Failed", "log": output}))
        return 0
    if args[:2] == ["get", "job"] and args[3] == "-o" and args[4].startswith("jsonpath="):
        record = state / f"{args[2]}.json"
        if not record.is_file():
            print(f'Error from server (NotFound): jobs.batch "{args[2]}" not found', file=sys.stderr)
            return 1
        print(json.loads(record.read_text())["condition"] + " ", end="")
        return 0
    if args[0] == "logs" and args[1].startswith("job/"):
        record = state / f"{args[1][4:]}.json"
        print("\n".join(json.loads(record.read_text())["log"].splitlines()[-20:]))
        return 0
    print(f"error: local_kubectl.py does not do: kubectl {' '.join(args)}", file=sys.stderr)
    return 1


def main() -> int:
    if sys.argv[1] == "kubectl":
        return kubectl(sys.argv[2:])
    if sys.argv[1] != "run":
        raise SystemExit(__doc__)
    args = sys.argv[2:]
    volumes: dict[str, str] = {}
    night = None
    files = []
    while args:
        a = args.pop(0)
        if a == "--volume":
            k, v = args.pop(0).split("=", 1)
            volumes[k] = v
        elif a == "--night":
            night = args.pop(0)
        else:
            files.append(a)
    for f in files:
        text = Path(f).read_text()
        if night:
            text = text.replace("__NIGHT__", night).replace("__TAG__", night.replace("-", ""))
            # a night given its date: the check Job warns about a late log, as a backfill
            text = text.replace("__LATE__", "warn")
        for job in yaml.safe_load_all(text):
            ok, output = run_job(job, volumes)
            if not ok:
                print(output, file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
