#!/usr/bin/env bash
# serve_bench.sh -- load benchmark of `doppler serve` (never a timed test; figures go to
# notes/performance.md by hand): start a server (MODEL, default the default model; --parallel
# PARALLEL, default 64; --ctx CTX, default 256) on a free port, run bench/bench_serve.c at
# CLIENTS concurrent clients (default 1,4,16,64), PER requests each (default 4) of MAX_TOKENS
# generated tokens (default 64), print its table, stop the server (SIGTERM: it drains, exits 0).
# BIN: the folder holding doppler and bench_serve (default build). The server's stderr: $LOG.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
LOG=${LOG:-$(mktemp /tmp/serve_bench.XXXXXX.log)}
"$BIN/doppler" serve ${MODEL:-} --port 0 --parallel "${PARALLEL:-64}" --queue "${QUEUE:-64}" --ctx "${CTX:-256}" 2> "$LOG" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1200); do  # the `ready:` line comes once the model has loaded
  grep -q 'doppler serve: ready:' "$LOG" && break
  kill -0 $pid 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.5
done
url=$(grep -o 'listening on http://[^ ]*' "$LOG" | head -1 | cut -d' ' -f3)
grep -m1 'ready:' "$LOG" >&2
"$BIN/bench_serve" "$url" --clients "${CLIENTS:-1,4,16,64}" --per "${PER:-4}" --max-tokens "${MAX_TOKENS:-64}"
kill -TERM $pid; wait $pid
trap - EXIT
