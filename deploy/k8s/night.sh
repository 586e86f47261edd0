#!/bin/sh
# The night on Kubernetes, run by the churnrisk-night CronJob (night-cronjob.yaml): a small
# driver that creates the night's Jobs from the templates beside it and waits for each,
#   check → train (when the model is due) → score (Indexed Job, one pod a shard) → merge +
#   publish,
# stopping at the first Job that fails: a failed check, train or shard means no merge, and
# the published list stays yesterday's. Needs kubectl, a POSIX shell and the data volume.
#
# Tonight is today (UTC) unless AS_OF is set. The check Job refuses a late log on a
# scheduled night (no event on the days right before it, beyond MAX_MISSING_DAYS in
# check-job.yaml: exit 5), as a nightly `churnrisk run` does; a night given its AS_OF (a
# backfill, a rerun) is not refused.
#
# Retrain policy, from what a shell can see: no model, or a model file older than
# MAX_AGE_DAYS (its mtime: the model is written when it is trained) → train. The rest of
# `churnrisk run`'s policy (feature file or churn definition changed) is an operator's
# `RETRAIN=1` run: kubectl create job --from=cronjob/churnrisk-night churnrisk-night-retrain
# with RETRAIN=1 set in the copy. A feature file the model does not fit fails every shard
# with exit 4 (FailJob), and nothing is published.
set -eu
if [ -n "${AS_OF:-}" ]; then
    NIGHT=$AS_OF LATE=warn
else
    NIGHT=$(date -u +%Y-%m-%d) LATE=refuse
fi
TAG=$(echo "$NIGHT" | tr -d -)
JOBS=${JOBS:-/driver}
DATA=${DATA:-/data}
MAX_AGE_DAYS=${MAX_AGE_DAYS:-28}
POLL_SECONDS=${POLL_SECONDS:-15}

run_job() { # template
    name=$(sed -n 's/^  name: //p' "$JOBS/$1" | head -1 | sed "s/__TAG__/$TAG/")
    # a Job of the same name is an earlier attempt at this night: replace it
    kubectl delete job "$name" --ignore-not-found --wait=true
    sed -e "s/__NIGHT__/$NIGHT/g" -e "s/__TAG__/$TAG/g" -e "s/__LATE__/$LATE/g" "$JOBS/$1" |
        kubectl create -f -
    while :; do
        state=$(kubectl get job "$name" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')
        case " $state " in
            *" Complete "*)
                echo "night $NIGHT: $name complete"
                return 0
                ;;
            *" Failed "*)
                echo "night $NIGHT: $name failed; nothing published" >&2
                kubectl logs "job/$name" --tail=20 >&2 || true
                return 1
                ;;
        esac
        sleep "$POLL_SECONDS"
    done
}

staging="$DATA/churnrisk/out/.staging"
# nights older than a week: their staging folders go (a failed night's stays a week to look at)
if [ -d "$staging" ]; then
    find "$staging" -mindepth 1 -maxdepth 1 -type d -mtime +7 -exec rm -rf {} +
fi
# an earlier attempt at tonight leaves nothing behind that tonight's Jobs would pick up
rm -rf "${staging:?}/$NIGHT"
mkdir -p "$staging/$NIGHT"

run_job check-job.yaml
model="$DATA/churnrisk/model.json"
if [ "${RETRAIN:-0}" = 1 ]; then
    echo "night $NIGHT: retraining (RETRAIN=1)"
    run_job train-job.yaml
elif [ ! -f "$model" ]; then
    echo "night $NIGHT: retraining (no model yet)"
    run_job train-job.yaml
elif [ -z "$(find "$model" -mtime -"$MAX_AGE_DAYS")" ]; then
    echo "night $NIGHT: retraining ($model is older than $MAX_AGE_DAYS days)"
    run_job train-job.yaml
else
    echo "night $NIGHT: model kept ($model is younger than $MAX_AGE_DAYS days)"
fi
run_job score-shards-job.yaml
run_job merge-job.yaml
echo "night $NIGHT: published"
