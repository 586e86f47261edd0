#!/usr/bin/env bash
# Model quality on a true held-out protocol: churnrisk vs. a hand-written
# Fighting-Churn-with-Data peer (bench/fcwd_peer.py --score-at) vs. two simple baselines,
# scored at a date T from a log that ends before T and judged on what happened after T.
#
#   bench/compare_quality.sh                              # SCENARIOS="saas purchases lifetimes social plans", SEEDS="1 2 3"
#   SEEDS="7" SCENARIOS=saas bench/compare_quality.sh
#   CHURNRISK=path/to/churnrisk bench/compare_quality.sh  # default target/release/churnrisk (never builds)
#   GENERATOR=target/release/churnrisk CHURNRISK=old/churnrisk bench/compare_quality.sh
#                                                         # an older model on today's logs
#
# Scenarios (one full log per scenario and seed, regenerated every run):
#   saas       generate --users 3000 --days 210 --start 2026-01-05 ($SAAS_START);
#              T = start + 182 d = 2026-07-06, H = 28, --active-days 28,
#              features/default.toml, --users users.csv.
#   purchases  generate --scenario purchases --users 6000 --days 540 --start 2025-01-06
#              ($PURCHASES_START: the truncated logs must lie before churnrisk's wall clock,
#              which rejects later timestamps as future_timestamp); H = 182 with T = start + 358 d
#              and H = 91 with T = start + 449 d, --active-days 365,
#              --features DIR/features.toml (written by the generator), --users users.csv.
#              Skipped with a message while the binary's `generate` has no --scenario.
#   social     a subscription product nobody here modelled: bench/socialsim.py (a helper's
#              simulator written from Fighting Churn with Data's description; churn at each
#              monthly renewal from a utility of that month's rates of 9 event types that
#              drift per user) --users 12000 over 290 days from $SOCIAL_START; subscriptions
#              one row per billing month. The subscription definition: every method gets the
#              table as known at T (rows started by T) and --subscriptions; the truth is the
#              full table (an active period running at T that ends by T + H).
#              T = start + 231 d = 2025-08-25, H = 28.
#   plans      a second subscription product nobody here modelled: bench/plansim.py (a
#              helper's simulator written from Stripe's subscription documentation: 12,000
#              users, 70% monthly and 30% annual plans, billing periods anchored on the start,
#              voluntary churn at a period's end decided days to weeks before from the last
#              30 days' use, failed payments retried for 21 days, half recovering late),
#              one row per paid billing period, users signing up 2024-09-01 to 2025-11-01.
#              The subscription definition as for social. T = 2025-12-01, H = 28.
#   lifetimes  a log nobody here wrote: the example transactions shipped in the `lifetimes`
#              package (0.11.3, downloaded from PyPI into bench/data/external, the CSV's
#              SHA-256 checked): 5,000 customers' purchase dates in 2014, acquired January to
#              August, simulated by that package's authors from a BG/NBD model. No seed, no
#              users file. H = 91 with T = 2014-10-01 and H = 122 with T = 2014-09-01 (both
#              horizons end on 2014-12-31), --active-days 365.
# Per scenario, seed and horizon (all Python in bench/holdout.py and bench/fcwd_peer.py):
#   1. events_T.csv = the rows of events.csv with timestamp < T.
#   2. churnrisk train + score on events_T.csv at --as-of T (the scored list holds everyone:
#      its churn_probability column is used). Every method sees only the truncated log and
#      users.csv; only step 4 reads the full log.
#   3. peer:      fcwd_peer.py --score-at T on events_T.csv: its own panel t_k = T - H - 7k
#                 (k < 12; dates before log start + 28 d left out), C chosen on t_0 after
#                 fitting on the later dates, refitted on all dates, population at T scored.
#      recency:   logistic regression on log1p(days since the last value action), same panel.
#      rft:       logistic regression on log1p(recency, lifetime value actions, tenure), C chosen
#                 like the peer's, same panel.
#      bgnbd:     the BG/NBD model alone (four parameters by maximum likelihood on the log
#                 before T; no panel): the standard model of purchase logs.
#   4. truth from the FULL log: population = users with an event in [T - A, T); churned = no
#      value action ([events] value of the feature file) in [T, T + H). Metrics: ROC AUC,
#      Brier score, top-decile lift. "pop. mismatch" = users churnrisk scored that are not in
#      that population plus those it did not score (should be 0).
# Prints a markdown table (one row per scenario x horizon x seed, then a mean row per
# scenario and horizon; notes under it: churnrisk's windows from model.json, the peer's and
# RFT's C, churnrisk minus the peer, RFT and BG/NBD in AUC and Brier with 95% paired bootstrap
# intervals (an interval holding 0 is a tie at that population's size), any population
# mismatch, the binary's hash) and writes it to
# bench/data/quality/results.md; per-run files
# (model, scores, logs, run.json) stay in bench/data/quality/<scenario>/seed<S>/h<H>/
# (gitignored). A method that fails shows "–" and its log is named on stderr.
# Never builds. Python: bench/.venv (created from bench/requirements.txt if missing).
# Deterministic (the same binary and seeds give the same table). Runtime on the 2-core box:
# about 15 s per saas seed, 30 s per purchases seed (both horizons) and 10 s for the lifetimes
# log (both horizons; its one download aside): 2½ minutes by default (146 s measured).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SEEDS=${SEEDS:-"1 2 3"}
SCENARIOS=${SCENARIOS:-"saas purchases lifetimes social plans"}
LIFETIMES_VERSION=0.11.3
CHURNRISK=${CHURNRISK:-target/release/churnrisk}
SAAS_START=${SAAS_START:-2026-01-05}
# churnrisk rejects events later than its wall clock (`future_timestamp`), so the purchases
# log must be in the past up to its latest T: it starts a year earlier (also a Monday).
PURCHASES_START=${PURCHASES_START:-2025-01-06}
SOCIAL_START=${SOCIAL_START:-2025-01-06}
OUT=$ROOT/bench/data/quality
VENV=$ROOT/bench/.venv

[[ -x $CHURNRISK ]] || { echo "no churnrisk binary at $CHURNRISK (set CHURNRISK)" >&2; exit 2; }
mkdir -p "$OUT"
# one binary for the whole run, even if $CHURNRISK is replaced meanwhile
cp "$CHURNRISK" "$OUT/.churnrisk.$$"
trap 'rm -f "$OUT/.churnrisk.$$"' EXIT
BIN_NOTE="churnrisk: $CHURNRISK ($("$OUT/.churnrisk.$$" --version), sha256 $(sha256sum "$OUT/.churnrisk.$$" | cut -c1-12), modified $(date -u -r "$CHURNRISK" '+%F %T') UTC)"
CHURNRISK=$OUT/.churnrisk.$$
# The logs come from GENERATOR (default: the same binary): set it to measure an older
# churnrisk on today's scenarios.
GEN=${GENERATOR:-$CHURNRISK}
if [[ ! -x $VENV/bin/python ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r bench/requirements.txt
fi
PY=$VENV/bin/python
HO=$ROOT/bench/holdout.py

plus_days() { date -u -d "$START + $1 days" +%F; }  # uses the scenario's START
say() { echo "[$(date +%T)] $*" >&2; }

runs=()
t_start=$SECONDS
for scenario in $SCENARIOS; do
    case $scenario in
        saas)
            START=$SAAS_START; days=210; gen=(--users 3000 --days $days); horizons="28"; active=28
            t_of() { plus_days 182; } ;;
        purchases)
            if ! "$GEN" generate --help | grep -q -- '--scenario'; then
                say "SKIP purchases: $GEN generate has no --scenario flag yet"
                continue
            fi
            START=$PURCHASES_START; days=540; gen=(--scenario purchases --users 6000 --days $days)
            horizons="182 91"
            active=365
            t_of() { plus_days $((540 - $1)); } ;;
        lifetimes)
            START=2014-01-01; horizons="91 122"; active=365
            t_of() { plus_days $((365 - $1)); } ;;
        social)
            START=$SOCIAL_START; horizons="28"; active=28
            t_of() { plus_days 231; } ;;
        plans)
            START=2024-09-01; horizons="28"; active=28
            t_of() { plus_days 456; } ;;
        *) echo "unknown scenario $scenario (saas, purchases, lifetimes, social, plans)" >&2; exit 2 ;;
    esac
    seeds=$SEEDS
    [[ $scenario == lifetimes ]] && seeds=0  # one public log: no seed
    for seed in $seeds; do
        dir=$OUT/$scenario/seed$seed
        rm -rf "$dir"
        mkdir -p "$dir"
        if [[ $scenario == lifetimes ]]; then
            wheel=$OUT/../external/Lifetimes-$LIFETIMES_VERSION-py3-none-any.whl
            if [[ ! -s $wheel ]]; then
                say "lifetimes: downloading lifetimes==$LIFETIMES_VERSION from PyPI"
                "$PY" -m pip download -q --disable-pip-version-check --no-deps \
                    "lifetimes==$LIFETIMES_VERSION" -d "$(dirname "$wheel")"
            fi
            "$PY" "$HO" lifetimes --wheel "$wheel" --out "$dir" >&2
        elif [[ $scenario == social ]]; then
            say "social seed $seed: bench/socialsim.py"
            "$PY" bench/socialsim.py --seed "$seed" --out "$dir" --start "$START" >"$dir/sim.log"
        elif [[ $scenario == plans ]]; then
            say "plans seed $seed: bench/plansim.py"
            "$PY" bench/plansim.py --seed "$seed" --out "$dir" >"$dir/sim.log"
        else
            say "$scenario seed $seed: generate ${gen[*]}"
            "$GEN" generate -q --out "$dir" "${gen[@]}" --start "$START" --seed "$seed" \
                --format csv
        fi
        if [[ $scenario == saas ]]; then
            features=$ROOT/features/default.toml
        else
            features=$dir/features.toml
            [[ -s $features ]] || { say "ERROR: $dir/features.toml missing"; exit 3; }
        fi
        for H in $horizons; do
            T=$(t_of "$H")
            run=$dir/h$H
            mkdir -p "$run"
            say "$scenario seed $seed H=$H: T=$T, truncating"
            if [[ $T > $(date -u +%F) ]]; then
                say "WARNING: T=$T is after today: churnrisk rejects events after its clock" \
                    "(future_timestamp); set an earlier ${scenario^^}_START"
            fi
            subs=()  # the subscription definition: the table as known at T for every method
            [[ $scenario == social || $scenario == plans ]] && subs=(--subscriptions "$dir/subscriptions.csv"
                                               --subscriptions-out "$run/subscriptions_T.csv")
            "$PY" "$HO" truncate --events "$dir/events.csv" --as-of "$T" --out "$run/events_T.csv" \
                "${subs[@]}" 2>"$run/truncate.log"
            inputs=(--events "$run/events_T.csv" --features "$features")
            [[ -s $dir/users.csv ]] && inputs+=(--users "$dir/users.csv")
            truth=()
            if ((${#subs[@]})); then
                inputs+=(--subscriptions "$run/subscriptions_T.csv")
                truth=(--subscriptions "$dir/subscriptions.csv")
            fi
            methods=()

            say "  churnrisk train + score"
            if "$CHURNRISK" train "${inputs[@]}" --as-of "$T" --horizon-days "$H" \
                    --active-days "$active" --model "$run/model.json" >"$run/train.log" 2>&1 &&
               "$CHURNRISK" score -q "${inputs[@]}" --as-of "$T" --model "$run/model.json" \
                    --out "$run/churnrisk.csv" >"$run/score.log" 2>&1; then
                methods+=(--method "churnrisk=$run/churnrisk.csv")
                grep -i 'window' "$run/train.log" | grep -vE '^\s*[+-][0-9]' | sed 's/^/    train: /' >&2 || true
            else
                say "  churnrisk FAILED: see $run/train.log / $run/score.log"
            fi

            say "  peer"
            if "$PY" bench/fcwd_peer.py --quiet "${inputs[@]}" --score-at "$T" --horizon-days "$H" \
                    --active-days "$active" --scores-out "$run/peer.csv" --json "$run/peer.json" \
                    >"$run/peer.log" 2>&1; then
                methods+=(--method "peer=$run/peer.csv")
            else
                say "  peer FAILED: see $run/peer.log"
            fi

            say "  recency, RFT and BG/NBD baselines"
            if "$PY" "$HO" baselines "${inputs[@]}" --as-of "$T" --horizon-days "$H" \
                    --active-days "$active" --out-dir "$run" >"$run/baselines.log" 2>&1; then
                methods+=(--method "recency=$run/recency.csv" --method "rft=$run/rft.csv"
                          --method "bgnbd=$run/bgnbd.csv")
            else
                say "  baselines FAILED: see $run/baselines.log"
            fi

            if ((${#methods[@]} == 0)); then
                say "  nothing to evaluate"
                continue
            fi
            "$PY" "$HO" evaluate --events "$dir/events.csv" --features "$features" --as-of "$T" \
                --horizon-days "$H" --active-days "$active" "${truth[@]}" "${methods[@]}" \
                --model "$run/model.json" --peer-json "$run/peer.json" \
                --rft-json "$run/baselines.json" \
                --label "scenario=$scenario" --label "seed=$seed" --json "$run/run.json"
            runs+=("$run/run.json")
        done
    done
done

((${#runs[@]})) || { echo "no runs" >&2; exit 1; }
say "done in $((SECONDS - t_start)) s"
echo
"$PY" "$HO" table "${runs[@]}" --md "$OUT/results.md" --note "$BIN_NOTE" \
    --note "seeds: $SEEDS; $((SECONDS - t_start)) s"
