#!/usr/bin/env bash
# Builds the static page into www/ (www/pkg holds the generated wasm and its JS glue).
# Copy the whole www/ folder to any static host; it must serve .wasm as application/wasm.
source "$(dirname "$0")/lib.sh"
build_page
say "Built: $ROOT/www is the whole site (index.html, *.js, style.css, lessons/, pkg/, vendor/)"
