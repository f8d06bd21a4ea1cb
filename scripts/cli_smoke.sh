#!/usr/bin/env bash
# cli_smoke.sh -- the CLI's user-facing contract: JSON shapes and one-line errors with a
# non-zero exit for bad input.
set -uo pipefail
cd "$(dirname "$0")/.."
D=${DOPPLER_BIN:-./build/doppler}
n=0; bad=0
ok() { n=$((n+1)); }
no() { bad=$((bad+1)); echo "cli_smoke FAIL: $*"; }

out=$($D devices --json) && python3 -c '
import json,sys; d=json.loads(sys.argv[1])
assert d["backend"]=="vulkan", d; assert isinstance(d["features"],list); assert isinstance(d["limits"],dict)
assert d["limits"]["maxComputeWorkgroupsPerDimension"]>=65535' "$out" && ok || no "devices --json: $out"
for a in lavapipe swiftshader; do
  out=$($D devices --json --adapter $a) && python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["driver"]==sys.argv[2], d' "$out" $a && ok || no "devices --adapter $a"
done
err=$($D devices --adapter nosuch 2>&1); rc=$?
[ $rc -ne 0 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && [[ $err == *nosuch* ]] && ok || no "unknown adapter: rc=$rc '$err'"
err=$(DOPPLER_ADAPTER=/nonexistent/icd.json $D devices 2>&1); rc=$?
[ $rc -ne 0 ] && [ $(printf '%s\n' "$err" | wc -l) -eq 1 ] && ok || no "missing ICD: rc=$rc '$err'"
err=$($D frobnicate 2>&1); rc=$?
[ $rc -ne 0 ] && [[ $err == *frobnicate* ]] && ok || no "unknown command"
echo "cli_smoke: $n passed, $bad failed"
[ $bad -eq 0 ]
