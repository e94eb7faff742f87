#!/usr/bin/env bash
# Builds the page and serves it on localhost. Usage: scripts/serve.sh [port]
source "$(dirname "$0")/lib.sh"
PORT="${1:-${PORT:-8080}}"
build_page
say "Serving www/ at http://127.0.0.1:$PORT/  (Ctrl-C to stop)"
echo "Open http://127.0.0.1:$PORT/ in a browser."
cd "$ROOT/www" && exec python3 -m http.server "$PORT" --bind 127.0.0.1
