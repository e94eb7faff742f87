#!/usr/bin/env bash
# Prints the benchmark figures: the core's events per second beside a bare binary heap; the memory
# thousands of writes at once and a long run keep; the page's frame times with 64 nodes and 5,000
# messages in flight; how long time travel takes to jump in a ten-minute run. Never fails on a slow
# machine.
# Pass --quick for a short run.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
QUICK="${1:-}"
ensure_browsers
ensure_npm_packages
build_page
say "Core benchmark"
cargo bench --bench core -- $QUICK
say "Memory benchmark"
cargo bench --bench memory -- $QUICK
say "Page benchmark"
if [ "$QUICK" = "--quick" ]; then
  node tests/e2e/bench-page.mjs --seconds 2
else
  node tests/e2e/bench-page.mjs
fi
say "Time travel benchmark"
node tests/e2e/bench-timeline.mjs
node tests/e2e/bench-timeline.mjs --every 10
