#!/usr/bin/env bash
# Installs what the tests need (once) and runs every test: lints, native tests (with property
# tests), the browser tests of the exported API in headless Chrome and Firefox, and the
# end-to-end tests of the page in headless Chromium, and the sites wasm-pack and trunk build. Exits non-zero on the first failure.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_wasm_toolchain
ensure_browsers
ensure_npm_packages

say "Lints: rustfmt, clippy (native and wasm32), rustdoc"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

say "Native tests (unit, behaviour, property, doc)"
cargo test

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
