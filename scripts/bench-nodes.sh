#!/usr/bin/env bash
# Real nodes against the tutorial's own: the tutorial's Flask code (taken from ../shared/seed/,
# Flask from PyPI) and converge's nodes, three of each on this machine, under the same load
# (crates/node/examples/load.rs: writes through random nodes). Prints writes per second and
# p50/p99 latency at W = 1 (fire-and-forget) for both; for converge also p99 at 1,000 writes a
# second, W = quorum, the time until every node holds a write, and memory per node with
# 100,000 keys. Numbers depend on the machine: compare the two columns of one run.
#
#   bash scripts/bench-nodes.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SEED="${SEED_DIR:-$ROOT/../shared/seed}"
VENV="$ROOT/target/bench-venv"
say "Building the node and the load generator (release)"
cargo build --release -q -p converge-node --bin converge-node --example load
NODE="$ROOT/target/release/converge-node"
LOAD="$ROOT/target/release/examples/load"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done; echo "port $1 never answered"; exit 1; }
targets() { local b=$1; echo "http://127.0.0.1:$b,http://127.0.0.1:$((b + 1)),http://127.0.0.1:$((b + 2))"; }

say "The tutorial's Flask nodes (ports 5100-5102)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q flask==3.1.3 requests
fi
# The tutorial's node.py, exactly as the tutorial gives it (its first python block).
python3 - "$SEED" "$WORK/node.py" <<'PY'
import glob, re, sys
text = "".join(open(f).read() for f in sorted(glob.glob(sys.argv[1] + "/*")))
block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
open(sys.argv[2], "w").write(block)
PY
for port in 5100 5101 5102; do
  peers=(); for p in 5100 5101 5102; do [ $p = $port ] || peers+=("http://localhost:$p"); done
  (cd "$WORK" && exec "$VENV/bin/python" node.py $port "${peers[@]}") >/dev/null 2>&1 &
  PIDS+=($!)
done
for port in 5100 5101 5102; do wait_port $port; done
sleep 2 # the debug reloader starts the server a second time
FLASK=$("$LOAD" --targets "$(targets 5100)" --writes 3000 --concurrency 32)
echo "flask W=1: $FLASK"
cleanup; PIDS=()

run_cluster() { # run_cluster BASE [--set ...]: three node processes
  local base=$1; shift
  for id in 1 2 3; do
    local peers=()
    for p in 1 2 3; do [ $p = $id ] || peers+=(--peer "$p=http://127.0.0.1:$((base + p - 1))"); done
    "$NODE" node --id $id --listen "127.0.0.1:$((base + id - 1))" "${peers[@]}" "$@" >/dev/null 2>&1 &
    PIDS+=($!)
  done
  for id in 0 1 2; do wait_port $((base + id)); done
}

say "converge's nodes (ports 5200-5202), no coordination: W = 1, fire-and-forget"
run_cluster 5200
W1=$("$LOAD" --targets "$(targets 5200)" --writes 30000 --concurrency 32 --converge)
echo "converge W=1: $W1"
RATE=$("$LOAD" --targets "$(targets 5200)" --writes 10000 --concurrency 32 --rate 1000)
echo "converge W=1 at 1000 writes/s: $RATE"
"$LOAD" --targets "$(targets 5200)" --writes 100000 --keys 100000 --distinct --concurrency 32 >/dev/null
sleep 1
KEYS=$(curl -s http://127.0.0.1:5202/status | python3 -c "import json,sys; print(json.load(sys.stdin)['keys'])")
MEM=""
for p in "${PIDS[@]}"; do MEM="$MEM $(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$p/status)"; done
echo "converge memory with $KEYS keys per node (RSS, MB):$MEM"
cleanup; PIDS=()

say "converge's nodes, coordinated: W = quorum (2 of 3)"
run_cluster 5300 --set coordination=quorum
QUORUM=$("$LOAD" --targets "$(targets 5300)" --writes 20000 --concurrency 32)
echo "converge W=quorum: $QUORUM"
QRATE=$("$LOAD" --targets "$(targets 5300)" --writes 10000 --concurrency 32 --rate 1000)
echo "converge W=quorum at 1000 writes/s: $QRATE"
cleanup; PIDS=()

say "Summary"
python3 - "$FLASK" "$W1" "$RATE" "$QUORUM" "$QRATE" "$KEYS" "$MEM" <<'PY'
import json, sys
flask, w1, rate, quorum, qrate = (json.loads(a) for a in sys.argv[1:6])
keys, mem = sys.argv[6], [float(m) for m in sys.argv[7].split()]
print(f"{'':34}{'writes/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
for name, f in [("tutorial (Flask), W = 1", flask), ("converge, W = 1", w1),
                ("converge, W = 1 at 1,000/s", rate), ("converge, W = quorum", quorum),
                ("converge, W = quorum at 1,000/s", qrate)]:
    print(f"{name:34}{f['writesPerSecond']:>10.0f}{f['p50Ms']:>9.2f}{f['p99Ms']:>9.2f}")
print(f"throughput at W = 1: {w1['writesPerSecond'] / flask['writesPerSecond']:.1f}x the tutorial's (target 20x)")
print(f"p99 at 1,000 writes/s: {rate['p99Ms']:.2f} ms (target under 5 ms)")
print(f"time until all three nodes hold a write: p50 {w1['convergeP50Ms']:.2f} ms, max {w1['convergeMaxMs']:.2f} ms")
print(f"memory per node with {keys} keys: {', '.join(f'{m:.1f}' for m in mem)} MB (target under 50 MB)")
PY
