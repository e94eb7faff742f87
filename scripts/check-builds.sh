#!/usr/bin/env bash
# The build paths people expect besides scripts/build.sh, checked as docs/using.md gives them:
# its "With wasm-pack or trunk" commands run verbatim in a copy of this checkout (sharing target/,
# so the core is not compiled twice), then tests/builds/sites.test.mjs opens each site in headless
# Chromium and drives it: the www/ wasm-pack wrote into, the dist/ trunk built, and the page
# `trunk serve` serves. Installs wasm-pack and trunk once (about 10 and 12 minutes).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_wasm_toolchain
ensure_npm_packages
ensure_wasm_pack
ensure_trunk

# The documented commands: the sh block after the "With wasm-pack or trunk" heading.
mapfile -t commands < <(awk '/^### With wasm-pack or trunk/{f=1} f&&/^```sh/{b=1;next} b&&/^```/{exit} b' docs/using.md \
  | sed 's/ *#.*//')
[ "${#commands[@]}" -eq 3 ] || { echo "docs/using.md: expected 3 build commands, found ${#commands[@]}" >&2; exit 1; }

scratch="$(mktemp -d)"
serve_pid=
trap '[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$scratch"' EXIT
repo="$scratch/repo"
mkdir -p "$repo"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp -p --parents -t "$repo"  # -p: mtimes kept, so npm sees its packages current
ln -s "$ROOT/node_modules" "$repo/node_modules"
export CARGO_TARGET_DIR="$ROOT/target"
cd "$repo"

say "${commands[0]}"
start=$SECONDS
eval "${commands[0]}"
bash scripts/vendor.sh
echo "wasm-pack: $((SECONDS - start)) s"

say "${commands[1]}"
start=$SECONDS
eval "${commands[1]}"
echo "trunk build: $((SECONDS - start)) s"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
say "${commands[2]} --port $port --dist $scratch/served --no-autoreload"
eval "${commands[2]} --port $port --dist $scratch/served --no-autoreload" > "$scratch/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 240); do
  curl -fs "http://127.0.0.1:$port/pkg/converge_bg.wasm" -o /dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$scratch/serve.log"; exit 1; }
  sleep 0.5
done

say "The three sites in headless Chromium"
cd "$ROOT"
SITES="$repo/www $repo/dist http://127.0.0.1:$port/" node --test tests/builds/
