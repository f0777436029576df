#!/usr/bin/env bash
# Cold-path throughput: how fast a backlog of ISSUES (default 10,000)
# qualifying issues becomes Linear tickets in a fake Linear
# (target/release/ufse-fakes), before any real provider's rate limit.
#
# 1. `ufse serve` with `[cold_path] concurrency = 0` (its hot path queues,
#    its workers stay off) takes ISSUES sessions in, each with an error
#    click on a page of its own, so each opens an issue that qualifies
#    (an error click of medium severity): ISSUES triage jobs wait.
# 2. Then WORKERS `ufse work` processes (default 1), each running
#    CONCURRENCY jobs at once (default 16), drain them: triage (evidence
#    read from the log, offline explanation, draft, readiness, approval)
#    and filing (Linear's issueCreate, the ticket recorded). Timed from
#    their start until every ticket is recorded.
#
# On the embedded store by default; with UFSE_POSTGRES_URL set, on a fresh
# schema of that PostgreSQL.
#
#   cargo build --release -p ufse-cli -p ufse-fakes
#   bash load-tests/scripts/cold-path.sh
#   ISSUES=10000 WORKERS=3 UFSE_POSTGRES_URL=postgres://postgres@127.0.0.1/postgres bash load-tests/scripts/cold-path.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/target/release"
issues="${ISSUES:-10000}"
workers="${WORKERS:-1}"
work="$(mktemp -d)"
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    if [ -n "${UFSE_POSTGRES_URL:-}" ]; then
        psql "$UFSE_POSTGRES_URL" -qc "DROP SCHEMA IF EXISTS \"$UFSE_POSTGRES_SCHEMA\" CASCADE" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop_all EXIT
wait_line() { # FILE PATTERN
    for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.1; done
    cat "$1" >&2
    exit 1
}

if [ -n "${UFSE_POSTGRES_URL:-}" ]; then export UFSE_POSTGRES_SCHEMA="ufse_cold_bench_$$"; fi
"$bin/ufse-fakes" linear --listen 127.0.0.1:0 --key lin_api_bench \
    --team 5a1e0000-0000-4000-8000-00000000aaaa > "$work/linear.txt" 2>&1 &
pids+=($!)
wait_line "$work/linear.txt" '^listening on'
export UFSE_LINEAR_URL=$(awk '/^listening on/ {print $3}' "$work/linear.txt")
export UFSE_LINEAR_API_KEY=lin_api_bench UFSE_LINEAR_TEAM_ID=5a1e0000-0000-4000-8000-00000000aaaa
export UFSE_COLD_PATH_TICKETS_PER_HOUR=100000000 UFSE_COLD_PATH_PULL_INTERVAL_MS=0
export UFSE_INGEST_CLIENT_EVENTS_PER_SEC=0

UFSE_COLD_PATH_CONCURRENCY=0 "$bin/ufse" serve --listen 127.0.0.1:18080 --data-dir "$work/data" \
    > "$work/serve.txt" 2> "$work/serve.err" &
server=$!
pids+=($server)
wait_line "$work/serve.txt" '^listening on'
key=$(awk '/^default project key:/ {print $4}' "$work/serve.txt")

echo "sending $issues sessions, one error click each on a page of its own" >&2
python3 - "$key" "$issues" <<'PY'
import http.client, json, sys, time
key, n = sys.argv[1], int(sys.argv[2])
t0 = int(time.time() * 1000) - 120_000
conn = http.client.HTTPConnection("127.0.0.1", 18080)
for i in range(n):
    events = [
        {"t": "nav", "ts": t0, "seq": 1, "url": f"https://shop.example.com/p{i}/cart", "nav": "load"},
        {"t": "click", "ts": t0 + 100, "seq": 2, "x": 400, "y": 100, "sel": "div.cart > button#checkout",
         "el": {"tag": "button"}, "txt": "Checkout"},
        {"t": "error", "ts": t0 + 400, "seq": 3, "kind": "error", "msg": f"TypeError: cart {i} is undefined",
         "stack": "TypeError\n    at checkout (https://shop.example.com/app.js:10:5)"},
        {"t": "custom", "ts": t0 + 60_000, "seq": 4, "name": "heartbeat"},
    ]
    body = json.dumps({"v": 1, "sid": f"bench-{i}", "uid": f"u{i}", "events": events})
    conn.request("POST", "/v1/batch", body, {"X-Ufse-Key": key, "Content-Type": "text/plain"})
    r = conn.getresponse()
    r.read()
    assert r.status == 202, (r.status, i)
PY
count_issues() { "$bin/ufse" issues list --kind error_click --limit 1000000 --json --data-dir "$work/data" | wc -l; }
for _ in $(seq 600); do [ "$(count_issues)" -ge "$issues" ] && break; sleep 0.5; done
echo "$(count_issues) issues stored; stopping the edge, starting $workers worker(s)" >&2
kill -TERM "$server"
wait "$server" || true

export UFSE_COLD_PATH_CONCURRENCY="${CONCURRENCY:-16}"
start=$(date +%s.%N)
for w in $(seq "$workers"); do
    "$bin/ufse" work --listen "127.0.0.1:0" --data-dir "$work/data" > "$work/work-$w.txt" 2> "$work/work-$w.err" &
    pids+=($!)
done
for w in $(seq "$workers"); do wait_line "$work/work-$w.txt" '^listening on'; done
filed() {
    local n=0
    for w in $(seq "$workers"); do
        local addr=$(awk '/^listening on/ {print $3}' "$work/work-$w.txt")
        n=$((n + $(curl -s "$addr/metrics" | awk '/^ufse_tickets_filed_total/ {s += $2} END {printf "%d", s}')))
    done
    echo "$n"
}
while [ "$(filed)" -lt "$issues" ]; do sleep 0.1; done
end=$(date +%s.%N)
cpu=$(for w in "${pids[@]:2}"; do awk '{print ($14 + $15) / 100}' "/proc/$w/stat" 2>/dev/null; done | awk '{s += $1} END {print s}')
recorded=$("$bin/ufse" tickets list --limit 1000000 --json --data-dir "$work/data" | wc -l)
dead=$("$bin/ufse" jobs list --state dead --limit 1000000 --json --data-dir "$work/data" | wc -l)
python3 - "$start" "$end" "$issues" "$recorded" "$dead" "$workers" "${CONCURRENCY:-16}" "$cpu" <<'PY'
import sys
start, end = float(sys.argv[1]), float(sys.argv[2])
n, recorded, dead, workers, conc, cpu = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7], float(sys.argv[8])
s = end - start
store = "PostgreSQL" if __import__("os").environ.get("UFSE_POSTGRES_URL") else "SQLite"
print(f"{n} issues triaged and filed in {s:.1f} s by {workers} worker(s) x {conc} on {store}: "
      f"{n / s:.0f} tickets/s ({recorded} tickets recorded, {dead} dead jobs; workers' CPU {cpu:.1f} s)")
PY
