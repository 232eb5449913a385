#!/usr/bin/env bash
# Churn soak (a bench, not a CI test): runs examples/bench_server (release) and drives it with
# scripts/soak.mjs (socket.io-client from tests/js) for DURATION seconds of connect / emit / ack /
# broadcast / disconnect churn across websocket, polling and upgraded sessions, a quarter of the
# clients walking away without a goodbye. Samples the server's RSS (VmRSS) and prints a summary;
# docs/reliability.md records the figures.
#
#   scripts/soak.sh               10 minutes on a free port
#   DURATION=60 scripts/soak.sh   a short run
#
# Traffic stays on 127.0.0.1; the loop is bounded by DURATION and stops by itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-600}"
PORT="${PORT:-$((20000 + RANDOM % 20000))}"
OUT="${OUT:-$ROOT/target/soak}"
mkdir -p "$OUT"

[ -d tests/js/node_modules ] || (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
cargo build --quiet --release --example bench_server
BIN="$ROOT/target/release/examples/bench_server"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

PORT="$PORT" WORKERS=1 "$BIN" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q listening "$OUT/server.log" 2>/dev/null && break
    sleep 0.1
done
URL="http://127.0.0.1:$PORT"

idle_start=$(rss_kib "$SERVER")
# Warm-up: one short run so allocator arenas, the runtime's thread-local caches and the
# namespace's maps reach their working size before the baseline is taken.
node scripts/soak.mjs "$URL" 10 >"$OUT/warmup.log"
sleep 3
baseline=$(rss_kib "$SERVER")

peak=$baseline
node scripts/soak.mjs "$URL" "$DURATION" >"$OUT/client.log" &
CLIENT=$!
: >"$OUT/rss.tsv"
while kill -0 "$CLIENT" 2>/dev/null; do
    r=$(rss_kib "$SERVER")
    [ "$r" -gt "$peak" ] && peak=$r
    printf '%s\t%s\n' "$(date +%s)" "$r" >>"$OUT/rss.tsv"
    sleep 5
done
wait "$CLIENT"
# Let the walked-away sessions time out (ping 25 s + 20 s) before the last reading.
sleep 50
after=$(rss_kib "$SERVER")

summary=$(tail -n 1 "$OUT/client.log")
cat <<EOF | tee "$OUT/summary.txt"
duration_s=$DURATION
rss_idle_start_kib=$idle_start
rss_baseline_after_warmup_kib=$baseline
rss_peak_kib=$peak
rss_after_kib=$after
rss_delta_kib=$((after - baseline))
client=$summary
EOF
