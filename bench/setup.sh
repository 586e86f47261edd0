# Sourced by the bench scripts (after CHURNRISK, DATA and VENV are set): checks the tools,
# makes bench/.venv from bench/requirements.txt when absent (and installs into it what is
# missing), sets PY, and defines events_of.
[[ -x $CHURNRISK ]] || { echo "no churnrisk binary at $CHURNRISK (build it, or set CHURNRISK)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
PY=$VENV/bin/python
# an older venv may lack a package (duckdb came later): install what is missing
"$PY" -c 'import duckdb, numpy, pandas, pyarrow, sklearn' 2>/dev/null \
    || "$VENV/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt
mkdir -p "$DATA"

# "200k" / "1M" / "1.5M" / "2500000" -> an event count
events_of() {
    awk -v s="$1" 'BEGIN {
        n = s + 0; u = toupper(substr(s, length(s)))
        if (u == "K") n *= 1e3; else if (u == "M") n *= 1e6; else if (u == "G") n *= 1e9
        if (n <= 0) exit 1
        printf "%d\n", n }'
}
