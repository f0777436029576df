#!/usr/bin/env bash
# End-to-end throughput of `ufse serve`: starts a fresh release server on
# 127.0.0.1:18080 with its own data directory, runs ufse-load against it
# (extra arguments go to ufse-load), waits until the processor has stored
# every acknowledged event, and prints ingest rate, latency and the
# end-to-end rate (acknowledged events / (sending time + time until all
# were processed)), the spread of the per-second ingest rate while
# batches were arriving (a paced run's latency belongs to that rate, not
# to the run's average, which its ramp and tail pull down), plus the CPU
# seconds each server thread used. With
# RECALL=1 it also scores the injected frustration against the incidents.
#
#   cargo build --release -p ufse-cli -p ufse-load-tests
#   bash load-tests/scripts/e2e.sh --sessions 4000 --batches-per-session 160 --max-prebuilt-mb 1400 --connections 128
#
# With KAFKA_PROCESSORS=N it measures the scaled-out roles instead: a
# fresh topic (KAFKA_PARTITIONS, default 4) on the broker at
# UFSE_KAFKA_BROKERS (default 127.0.0.1:9092), `ufse ingest` on
# 127.0.0.1:18080 and N `ufse process` members of one group, storing into
# a fresh schema of the PostgreSQL at UFSE_POSTGRES_URL (default the local
# one) and a fresh database of the ClickHouse at UFSE_CLICKHOUSE_URL
# (default the local one); "stored" is then every event in ClickHouse.
# With KAFKA_BACKLOG=1 as well, the processors start only once every batch
# is acknowledged, which measures how fast they drain a backlog on their own.
#
# With COLD_PATH=linear, the server's cold path files tickets in a fake
# Linear (target/release/ufse-fakes) while the load runs, and the report
# says how many; without it the cold path runs as configured by default
# (the offline interpreter, no tracker). load-tests/scripts/cold-path-overhead.sh
# compares the two in one run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/target/release"
work="$(mktemp -d)"
processors=()
stop_all() {
    for p in "$server" "${processors[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    if [ -n "${KAFKA_PROCESSORS:-}" ]; then
        psql "$UFSE_POSTGRES_URL" -qc "DROP SCHEMA IF EXISTS \"$UFSE_POSTGRES_SCHEMA\" CASCADE" 2>/dev/null || true
        curl -s "$UFSE_CLICKHOUSE_URL" --data-binary "DROP DATABASE IF EXISTS $UFSE_CLICKHOUSE_DATABASE" || true
    fi
    rm -rf "$work"
}
server=
trap stop_all EXIT

export UFSE_INGEST_CLIENT_EVENTS_PER_SEC=0
if [ "${COLD_PATH:-}" = linear ]; then
    "$bin/ufse-fakes" linear --listen 127.0.0.1:0 --key lin_api_bench \
        --team 5a1e0000-0000-4000-8000-00000000aaaa > "$work/linear.txt" 2>&1 &
    processors+=($!)
    for _ in $(seq 100); do grep -q '^listening on' "$work/linear.txt" 2>/dev/null && break; sleep 0.1; done
    export UFSE_LINEAR_URL=$(awk '/^listening on/ {print $3}' "$work/linear.txt")
    [ -n "$UFSE_LINEAR_URL" ] || { cat "$work/linear.txt" >&2; exit 1; }
    export UFSE_LINEAR_API_KEY=lin_api_bench UFSE_LINEAR_TEAM_ID=5a1e0000-0000-4000-8000-00000000aaaa
    export UFSE_COLD_PATH_TICKETS_PER_HOUR=1000000
fi
if [ -n "${KAFKA_PROCESSORS:-}" ]; then
    export UFSE_KAFKA_BROKERS="${UFSE_KAFKA_BROKERS:-127.0.0.1:9092}"
    export UFSE_POSTGRES_URL="${UFSE_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
    export UFSE_KAFKA_TOPIC="ufse_bench_$$" UFSE_KAFKA_GROUP="ufse_bench_$$" UFSE_POSTGRES_SCHEMA="ufse_bench_$$"
    export UFSE_KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-4}" UFSE_KAFKA_REPLICATION_FACTOR=1
    export UFSE_CLICKHOUSE_URL="${UFSE_CLICKHOUSE_URL:-http://127.0.0.1:8123}" UFSE_CLICKHOUSE_DATABASE="ufse_bench_$$"
    "$bin/ufse" kafka init --data-dir "$work/data" >/dev/null
    "$bin/ufse" ingest --listen 127.0.0.1:18080 --data-dir "$work/data" > "$work/out.txt" 2> "$work/err.txt" &
    server=$!
    start_processors() {
        for i in $(seq "$KAFKA_PROCESSORS"); do
            "$bin/ufse" process --data-dir "$work/data" > /dev/null 2> "$work/process-$i.txt" &
            processors+=($!)
        done
    }
    stored_events() {
        curl -sf "$UFSE_CLICKHOUSE_URL" --data-binary "SELECT count() FROM $UFSE_CLICKHOUSE_DATABASE.events" || echo 0
    }
else
    "$bin/ufse" serve --listen 127.0.0.1:18080 --data-dir "$work/data" > "$work/out.txt" 2> "$work/err.txt" &
    server=$!
    stored_events() { curl -s 127.0.0.1:18080/metrics | awk '/^ufse_processor_events_total/ {print $2}'; }
fi
for _ in $(seq 50); do grep -q '^listening on' "$work/out.txt" 2>/dev/null && break; sleep 0.1; done
if ! grep -q '^listening on' "$work/out.txt"; then
    echo "ufse did not start (is 127.0.0.1:18080 taken?):" >&2
    cat "$work/err.txt" >&2
    exit 1
fi
key=$(awk '/^default project key:/ {print $4}' "$work/out.txt")
# After the edge created the default project (and printed its key), or a processor may have.
if [ -n "${KAFKA_PROCESSORS:-}" ] && [ "${KAFKA_BACKLOG:-0}" != 1 ]; then
    start_processors
fi

recall=()
if [ "${RECALL:-0}" = 1 ]; then
    recall=(--check-recall --ufse-bin "$bin/ufse" --data-dir "$work/data")
fi
# The server's accepted-events counter, once a second.
while kill -0 "$server" 2>/dev/null; do
    echo "$(date +%s.%N) $(curl -s 127.0.0.1:18080/metrics | awk '/^ufse_ingest_events_accepted_total/ {print $2}')"
    sleep 1
done > "$work/accepted.txt" &
sampler=$!
"$bin/ufse-load" --url http://127.0.0.1:18080 --key "$key" --json "${recall[@]}" "$@" > "$work/load.json"
loaded=$(date +%s.%N)
kill "$sampler"
total=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['acked']['events'])" "$work/load.json")
if [ "${KAFKA_BACKLOG:-0}" = 1 ]; then
    start_processors
fi
while true; do
    done_events=$(stored_events)
    [ "${done_events:-0}" -ge "$total" ] && break
    sleep 0.2
done
stored=$(date +%s.%N)
if [ "${COLD_PATH:-}" = linear ]; then
    curl -s 127.0.0.1:18080/metrics | awk '
        /^ufse_tickets_filed_total/ {t += $2}
        /^ufse_cold_path_jobs_total/ {j += $2}
        /^ufse_issues_opened_total/ {i += $2}
        END {printf "cold path during the run: %d issues opened, %d jobs run, %d Linear tickets filed\n", i, j, t}'
fi

for t in /proc/$server/task/*; do
    echo "$(cat "$t/comm") $(awk '{print ($14 + $15) / 100}' "$t/stat")"
done | awk '{cpu[$1] += $2} END {printf "server CPU s:"; for (k in cpu) printf " %s=%.1f", k, cpu[k]; print ""}'
python3 - "$work/load.json" "$loaded" "$stored" "$work/accepted.txt" <<'PY'
import json, os, statistics, sys
KAFKA_PROCESSORS = os.environ.get("KAFKA_PROCESSORS")
d = json.load(open(sys.argv[1])); loaded, stored = map(float, sys.argv[2:4])
samples = [tuple(map(float, l.split())) for l in open(sys.argv[4]) if len(l.split()) == 2]
rates = [(n1 - n0) / (t1 - t0) for (t0, n0), (t1, n1) in zip(samples, samples[1:]) if n1 > n0]
if rates:
    print(f"ingest per second while batches arrived ({len(rates)} s): median {statistics.median(rates):.0f}, "
          f"max {max(rates):.0f}")
a, l, dur = d["acked"], d["latency_ms"], d["duration_secs"]
total = dur + (stored - loaded)
print(f"acked {a['events']} events in {dur:.1f} s ({a['events_per_sec']:.0f}/s), "
      f"latency p50 {l['p50']:.1f} ms p99 {l['p99']:.1f} ms; all stored {stored - loaded:.1f} s later: "
      f"end to end {a['events'] / total:.0f} events/s over {total:.1f} s")
if os.environ.get("KAFKA_BACKLOG") == "1":
    print(f"backlog: {KAFKA_PROCESSORS} processor(s) stored {a['events']} events in {stored - loaded:.1f} s "
          f"(start-up and group join included): {a['events'] / (stored - loaded):.0f} events/s")
if d.get("recall"):
    print("recall:", json.dumps(d["recall"]["by_kind"]), "unexpected:", json.dumps(d["recall"]["unexpected"]))
PY
