#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every crate's tests,
# including the integration tests that drive the real `ufse` binary over
# HTTP and against real SQLite files. `.ci/run` calls exactly this.
#
# Installs what it needs (a Rust toolchain with rustfmt and clippy; for
# the browser SDK the wasm32 target, binaryen and its npm dev dependencies,
# see sdk-wasm/build.sh, and Debian's chromium for its end-to-end test).
# The scale-out tests need PostgreSQL, a Kafka-protocol broker and
# ClickHouse: the PostgreSQL running on 127.0.0.1:5432 is used, and where
# none runs it is started, or installed and started; the broker is tansu
# (installed with cargo once), started on 127.0.0.1:9092 unless one answers
# there; ClickHouse is Debian's (18.16, installed once), started on
# 127.0.0.1:8123 with a throwaway data directory unless one answers there.
# The script stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "cargo not found: install Rust from https://rustup.rs" >&2
        exit 1
    fi
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# Debian packages, with the package lists refreshed once first: a fresh
# machine's may be stale, and then an install fails to fetch.
apt_install() {
    if [ -z "${UFSE_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        export UFSE_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

echo "== PostgreSQL on 127.0.0.1:5432"
postgres_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; }
pg_started=
if ! postgres_up; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        apt_install postgresql
        fresh=1
    fi
    pg_started=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$pg_started" main start
    for _ in $(seq 50); do postgres_up && break; sleep 0.2; done
    # A fresh install asks TCP clients for a password: give it one.
    if [ -n "${fresh:-}" ]; then
        runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'postgres'"
    fi
fi
tansu_pid= tansu_dir= ch_pid= ch_dir=
stop_services() {
    if [ -n "$tansu_pid" ]; then
        kill "$tansu_pid" 2>/dev/null || true
        wait "$tansu_pid" 2>/dev/null || true
        rm -rf "$tansu_dir"
    fi
    if [ -n "$ch_pid" ]; then
        kill "$ch_pid" 2>/dev/null || true
        wait "$ch_pid" 2>/dev/null || true
        rm -rf "$ch_dir"
    fi
    if [ -n "$pg_started" ]; then pg_ctlcluster --skip-systemctl-redirect "$pg_started" main stop; fi
}
trap stop_services EXIT
export UFSE_TEST_POSTGRES_URL="${UFSE_TEST_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"

echo "== Kafka protocol: tansu on 127.0.0.1:9092"
# Built from crates.io once (about 9 minutes on two cores), then cached in ~/.cargo/bin.
if ! command -v tansu >/dev/null 2>&1; then
    cargo install tansu --locked --no-default-features --features libsql
fi
export UFSE_TEST_TANSU="$(command -v tansu)"
kafka_up() { (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null; }
if ! kafka_up; then
    # Its SQLite storage, in a throwaway directory (its memory storage skips offsets on fetch).
    tansu_dir=$(mktemp -d)
    (cd "$tansu_dir" && exec tansu broker --listener-url tcp://127.0.0.1:9092 \
        --advertised-listener-url tcp://127.0.0.1:9092 --storage-engine sqlite://tansu.db) \
        >"$tansu_dir/broker.log" 2>&1 &
    tansu_pid=$!
    for _ in $(seq 100); do kafka_up && break; sleep 0.1; done
    kafka_up || { cat "$tansu_dir/broker.log" >&2; echo "tansu did not start" >&2; exit 1; }
fi
export UFSE_TEST_KAFKA_BROKERS="${UFSE_TEST_KAFKA_BROKERS:-127.0.0.1:9092}"

echo "== ClickHouse on 127.0.0.1:8123"
clickhouse_up() { curl -sf 'http://127.0.0.1:8123/?query=SELECT%201' >/dev/null 2>&1; }
if ! clickhouse_up; then
    if [ ! -x /usr/sbin/clickhouse-server ]; then
        apt_install clickhouse-server clickhouse-client
    fi
    ch_dir=$(mktemp -d)
    /usr/sbin/clickhouse-server --config-file=/etc/clickhouse-server/config.xml -- \
        --path="$ch_dir/data/" --tmp_path="$ch_dir/tmp/" --user_files_path="$ch_dir/data/user_files/" \
        --format_schema_path="$ch_dir/data/format_schemas/" \
        --logger.log="$ch_dir/log/server.log" --logger.errorlog="$ch_dir/log/error.log" \
        --http_port=8123 --tcp_port=9000 --interserver_http_port=9009 >"$ch_dir/stdout.log" 2>&1 &
    ch_pid=$!
    for _ in $(seq 100); do clickhouse_up && break; sleep 0.1; done
    clickhouse_up || { cat "$ch_dir/stdout.log" "$ch_dir"/log/*.log >&2; echo "ClickHouse did not start" >&2; exit 1; }
fi
export UFSE_TEST_CLICKHOUSE_URL="${UFSE_TEST_CLICKHOUSE_URL:-http://127.0.0.1:8123}"
# The outage test runs a server of its own.
export UFSE_TEST_CLICKHOUSE_SERVER=/usr/sbin/clickhouse-server

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== browser SDK: build, wasm lints, tests under Node and in headless Chromium"
bash sdk-wasm/build.sh
cargo clippy -p ufse-sdk --target wasm32-unknown-unknown --locked -- -D warnings
if ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium
fi
# The end-to-end test starts target/debug/ufse, which `cargo test` built.
(cd sdk-wasm && node --test test/)
