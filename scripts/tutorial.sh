#!/usr/bin/env bash
# The tutorial's own commands, mended, against real converge nodes on ports 5000-5002: three
# processes started as the tutorial starts its Flask nodes, its write, its "verify convergence"
# (as GET /store; its GET /replicate answers 405 and says so), and its "a node is down during a
# write" case, in which this script stops node 3 and starts it again. Then the tutorial's
# exercise, background reconciliation: the same case with anti-entropy on, and node 3 catches up.
# It checks each outcome and exits non-zero if one is not what the tutorial promises.
#
#   bash scripts/tutorial.sh          (BASE_PORT=6000 to use other ports;
#                                      CONVERGE_NODE=path/to/converge-node to skip the build)
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

BASE_PORT="${BASE_PORT:-5000}"
P1=$BASE_PORT P2=$((BASE_PORT + 1)) P3=$((BASE_PORT + 2))
if [ -n "${CONVERGE_NODE:-}" ]; then
  NODE="$CONVERGE_NODE" # a binary built already (scripts/test.sh passes the tests' debug build)
else
  say "Building the node (cargo build --release -p converge-node)"
  cargo build --release -q -p converge-node
  NODE="$ROOT/target/release/converge-node"
fi
LOGS="$(mktemp -d)"
declare -A PID

start() { # start ID [--set ...]: one node, as `python3 node.py PORT PEERS...`
  local id=$1; shift
  local port=$((BASE_PORT + id - 1)) peers=()
  for p in 1 2 3; do
    [ "$p" = "$id" ] || peers+=(--peer "$p=http://localhost:$((BASE_PORT + p - 1))")
  done
  "$NODE" node --id "$id" --listen "127.0.0.1:$port" "${peers[@]}" "$@" >>"$LOGS/node-$id.log" 2>&1 &
  PID[$id]=$!
  for _ in $(seq 100); do curl -sf "http://localhost:$port/status" >/dev/null && return; sleep 0.1; done
  echo "node $id did not start:"; cat "$LOGS/node-$id.log"; exit 1
}
stop() { kill "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null || true; }
stop_all() { for id in 1 2 3; do [ -n "${PID[$id]:-}" ] && stop "$id"; done; }
trap stop_all EXIT
show() { echo "\$ $*"; "$@"; echo; }
stores() { # what each node holds, as the tutorial's step 3 wanted
  for port in $P1 $P2 $P3; do show curl -s "http://localhost:$port/store"; done
}
holds() { # holds PORT JSON: the node's store is exactly JSON
  curl -s "http://localhost:$1/store" | python3 -c "import json,sys; sys.exit(json.load(sys.stdin)['store'] != json.loads(sys.argv[1]))" "$2"
}
expect() { # expect 'what' PORT JSON [seconds]: wait until the node holds JSON
  for _ in $(seq $((${4:-3} * 10))); do holds "$2" "$3" && { echo "ok: $1"; return; }; sleep 0.1; done
  echo "FAILED: $1: node on port $2 holds $(curl -s "http://localhost:$2/store")"; exit 1
}
write() { show curl -s -X POST -H "Content-Type: application/json" -d "{\"key\": \"name\", \"value\": \"$2\"}" "http://localhost:$1/write"; }

say "Step 1: start the nodes (the tutorial's three commands)"
for id in 1 2 3; do start "$id"; done
echo "nodes on ports $P1, $P2 and $P3"

say "Step 2: perform a write"
write "$P1" Alice

say "Step 3: verify convergence (GET /store; the tutorial's GET /replicate is for nodes)"
show curl -s "http://localhost:$P1/replicate"
for port in $P1 $P2 $P3; do expect "node on port $port holds name = Alice" "$port" '{"name": "Alice"}'; done
stores

say "A node is down during a write: node 3 is stopped, node 1 takes a write"
stop 3
write "$P1" Bob
start 3
echo "node 3 started again; its store was in memory"
sleep 1
stores
holds "$P3" '{}' && echo "ok: node 3 missed the write and nothing repairs it (the tutorial's rules)" \
  || { echo "FAILED: node 3 should hold nothing"; exit 1; }
expect "node 2 holds Bob" "$P2" '{"name": "Bob"}'
stop_all

say "The exercise, background reconciliation: the same case with anti-entropy"
for id in 1 2 3; do start "$id" --set conflict=lww --set antiEntropy=true --set antiEntropyIntervalMs=200; done
write "$P1" Alice
stop 3
write "$P1" Bob
start 3 --set conflict=lww --set antiEntropy=true --set antiEntropyIntervalMs=200
for port in $P1 $P2 $P3; do expect "node on port $port converges to Bob" "$port" '{"name": "Bob"}' 5; done
say "What each node holds"
stores
show curl -s "http://localhost:$P1/read/name"
say "The tutorial's cluster behaved as it says, and converged with anti-entropy"
