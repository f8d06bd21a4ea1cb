#!/usr/bin/env bash
# server_test.sh -- `doppler serve` end to end (docs/server.md): tests/server/*.mjs with Node and
# the npm `openai` client pinned in package-lock.json, curl, and Debian's nginx for the scale-out
# test. Every server runs on lavapipe with doppler-tiny (the template test on a tiny synthetic
# Qwen3-shaped model). 37-45 s on the 2-core box at load 1-9, 111 s at load 14; each file is
# bounded by a timeout (180 s).
set -uo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} DOPPLER_ADAPTER=${DOPPLER_ADAPTER:-lavapipe}
pass=0; fail=0
for t in api limits template scaleout; do
  t0=$SECONDS
  if timeout -k 5 180 node "tests/server/$t.mjs"; then pass=$((pass+1)); else fail=$((fail+1)); echo "server_test: $t FAILED"; fi
  echo "server_test: $t ($((SECONDS-t0)) s)"
done
echo "server tests: $pass passed, $fail failed"
[ $fail -eq 0 ]
