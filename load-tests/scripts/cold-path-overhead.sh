#!/usr/bin/env bash
# The cold path's cost to ingestion, measured in one run: e2e.sh with the
# cold path on (the offline interpreter, filing tickets in a fake Linear:
# COLD_PATH=linear) and off ([cold_path] enabled = false: nothing queued, no
# workers), alternated ROUNDS times (default 2) with the same load, then
# the median acknowledged and end-to-end rates of each and the difference.
# Arguments go to ufse-load, as for e2e.sh.
#
#   cargo build --release -p ufse-cli -p ufse-load-tests -p ufse-fakes
#   bash load-tests/scripts/cold-path-overhead.sh --sessions 4000 --batches-per-session 160 --max-prebuilt-mb 1400 --connections 128
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rounds="${ROUNDS:-2}"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
for r in $(seq "$rounds"); do
    for mode in off linear; do
        echo "== round $r, cold path $mode" >&2
        if [ "$mode" = linear ]; then
            out=$(COLD_PATH=linear bash "$here/e2e.sh" "$@")
        else
            out=$(UFSE_COLD_PATH_ENABLED=false bash "$here/e2e.sh" "$@")
        fi
        echo "$out" >&2
        acked=$(echo "$out" | sed -n 's/^acked [0-9]* events in [0-9.]* s (\([0-9]*\)\/s).*/\1/p')
        e2e=$(echo "$out" | sed -n 's/.*end to end \([0-9]*\) events\/s.*/\1/p')
        echo "$mode $acked $e2e" >> "$results"
    done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = lambda mode, i: statistics.median(float(r[i]) for r in rows if r[0] == mode)
for name, i in (("acknowledged", 1), ("end to end", 2)):
    off, on = med("off", i), med("linear", i)
    print(f"{name}: cold path off {off:.0f} events/s, on (fake Linear) {on:.0f} events/s: {100 * (on - off) / off:+.1f}%")
PY
