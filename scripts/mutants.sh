#!/usr/bin/env bash
# Mutation testing of the correctness core with cargo-mutants: each mutant is a small bug put
# into the code (a `<` made `<=`, a function made to return a default); the native tests must
# fail for it. Which files, which test runner and which mutants are harmless live in
# .cargo/mutants.toml. Results go to mutants.out/ (caught.txt, missed.txt, timeout.txt).
#
#   bash scripts/mutants.sh                       # every file of the core (hours on 2 cores)
#   bash scripts/mutants.sh --file src/timeline.rs  # one file (any cargo-mutants option passes on)
#   bash scripts/mutants.sh --list                # the mutants, without testing them
#
# PROPTEST_CASES (default 400 here) sets how many schedules each property test tries per
# mutant: enough to catch what the full suite catches, few enough to test a mutant in seconds.
#
# The correctness core: clocks, versions and the data types (sets, counters), the replica and
# its coordinator, the write log with the lost and stale accounting, and the timeline.
R=crates/replica/src
CORE=("$R/clock.rs" "$R/version.rs" "$R/crdt.rs" "$R/replica/*.rs" src/writes.rs src/sim/clients.rs src/timeline.rs)
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

MUTANTS_VERSION=27.1.0
if [ "$(cargo mutants --version 2>/dev/null | awk '{print $2}')" != "$MUTANTS_VERSION" ]; then
  say "Installing cargo-mutants $MUTANTS_VERSION (about 3 minutes, once)"
  cargo install --locked cargo-mutants --version "$MUTANTS_VERSION"
fi
if ! command -v cargo-nextest >/dev/null; then
  say "Installing cargo-nextest (the test runner cargo-mutants is set to use)"
  cargo install --locked cargo-nextest
fi

files=()
case " $* " in
  *" --file "* | *" -f "*) ;;
  *) for f in "${CORE[@]}"; do files+=(--file "$f"); done ;;
esac

export PROPTEST_CASES="${PROPTEST_CASES:-400}"
say "cargo mutants ${files[*]} $* (PROPTEST_CASES=$PROPTEST_CASES)"
# --workspace: mutants are looked for in both crates (the replica is one of its own).
cargo mutants --workspace --no-shuffle "${files[@]}" "$@"
