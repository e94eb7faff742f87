# Shared set-up steps for the project's scripts. Each installs only what is missing, so a warm
# machine skips straight to the work. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# Runs a command as root: directly if we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# The wasm-bindgen version in Cargo.lock: the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

ensure_wasm_toolchain() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  local want have
  want="$(wasm_bindgen_version)"
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
  if [ "$have" != "$want" ]; then
    say "Installing wasm-bindgen-cli $want (about 3 minutes, once)"
    # No --locked: the registry mirror can lag behind the lockfile the CLI ships.
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

# Builds the core to wasm and generates the JS glue into www/pkg.
build_page() {
  ensure_wasm_toolchain
  ensure_npm_packages
  say "Building the wasm core"
  (cd "$ROOT" && cargo build --release --target wasm32-unknown-unknown)
  wasm-bindgen --target web --no-typescript --out-dir "$ROOT/www/pkg" \
    "$ROOT/target/wasm32-unknown-unknown/release/converge.wasm"
  vendor_files
}

# The page's one library (saving pictures as SVG), served beside it with its licence.
vendor_files() {
  ensure_npm_packages
  mkdir -p "$ROOT/www/vendor"
  cp "$ROOT/node_modules/svgcanvas/dist/svgcanvas.esm.js" "$ROOT/www/vendor/svgcanvas.js"
  cp "$ROOT/node_modules/svgcanvas/LICENSE" "$ROOT/www/vendor/svgcanvas.LICENSE"
}

WASM_PACK_VERSION=0.15.1
# The newest trunk that builds on Rust 1.95 (0.22 needs 1.96); without --locked it fails to build.
TRUNK_VERSION=0.21.14

ensure_wasm_pack() {
  if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" != "$WASM_PACK_VERSION" ]; then
    say "Installing wasm-pack $WASM_PACK_VERSION (about 2 minutes, once)"
    cargo install --locked wasm-pack --version "$WASM_PACK_VERSION"
  fi
}

ensure_trunk() {
  if [ "$(trunk --version 2>/dev/null | awk '{print $2}')" != "$TRUNK_VERSION" ]; then
    say "Installing trunk $TRUNK_VERSION (8 to 16 minutes, once)"
    cargo install --locked trunk --version "$TRUNK_VERSION"
  fi
}

ensure_browsers() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  command -v firefox >/dev/null || command -v firefox-esr >/dev/null || missing+=(firefox-esr)
  if [ ${#missing[@]} -gt 0 ]; then
    say "Installing ${missing[*]} from Debian's packages"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! command -v geckodriver >/dev/null; then
    say "Installing geckodriver (about 3 minutes, once)"
    cargo install geckodriver
  fi
}

ensure_npm_packages() {
  if [ ! -d "$ROOT/node_modules/playwright-core" ] || [ ! -d "$ROOT/node_modules/svgcanvas" ] || [ ! -d "$ROOT/node_modules/axe-core" ] \
    || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    say "Installing npm packages"
    (cd "$ROOT" && npm ci --no-audit --no-fund)
  fi
}
