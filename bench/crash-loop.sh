#!/usr/bin/env bash
# Runs the SIGKILL crash-safety test (test/crash/sigkill.e2e.spec.ts) N times in a row (default 20)
# and stops at the first failure, keeping its output. Usage: bench/crash-loop.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
npx tsc -p tsconfig.json >/dev/null || echo "(tsc reported errors; running what it emitted)"
log="$(mktemp -t crash-loop.XXXXXX.log)"
started=$SECONDS
for ((i = 1; i <= runs; i++)); do
  run_started=$SECONDS
  if node --test --test-concurrency=1 dist/test/crash/sigkill.e2e.spec.js >"$log" 2>&1; then
    echo "run $i/$runs: pass in $((SECONDS - run_started)) s; $(grep -o 'start and setup.*checked' "$log" | head -1)"
  else
    echo "run $i/$runs: FAILED after $((SECONDS - run_started)) s; output in $log"
    grep -E "not ok|Error|error:|!==|expected|actual" "$log" | head -20
    exit 1
  fi
done
rm -f "$log"
echo "all $runs runs passed in $((SECONDS - started)) s"
