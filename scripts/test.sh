#!/usr/bin/env bash
# Installs what the tests need (once) and runs every test: lints, native tests (with property
# tests), the browser tests of the exported API in headless Chrome and Firefox, and the
# end-to-end tests of the page in headless Chromium, the tutorial's commands against real nodes
# (scripts/tutorial.sh), and the sites wasm-pack and trunk build. Exits non-zero on the first failure.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_wasm_toolchain
ensure_browsers
ensure_npm_packages

say "Lints: rustfmt, clippy (native and wasm32), rustdoc"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The real node (crates/node: tokio, axum, redb) is native only: not a default member.
cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

say "Native tests (unit, behaviour, property, doc; real nodes over HTTP on free ports)"
cargo test --workspace

say "The tutorial's curl commands against real nodes (scripts/tutorial.sh)"
# The node binary the tests just built (debug): no second, release build.
CONVERGE_NODE="$ROOT/target/debug/converge-node" bash scripts/tutorial.sh > /tmp/converge-tutorial.log 2>&1 \
  || { cat /tmp/converge-tutorial.log; exit 1; }
tail -n 12 /tmp/converge-tutorial.log

say "Exported API in headless Chrome (wasm-bindgen-test)"
CHROMEDRIVER="$(command -v chromedriver)" cargo test -p converge --target wasm32-unknown-unknown --test web

say "Exported API in headless Firefox (wasm-bindgen-test)"
GECKODRIVER="$(command -v geckodriver)" cargo test -p converge --target wasm32-unknown-unknown --test web

build_page

say "End-to-end tests of the page in headless Chromium"
node --test tests/e2e/

say "The other build paths: wasm-pack and trunk, each site opened in headless Chromium"
bash scripts/check-builds.sh

say "Every test passed"
