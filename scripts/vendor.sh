#!/usr/bin/env bash
# Copies the page's one library (svgcanvas, for saving pictures as SVG) from npm into www/vendor/.
# scripts/build.sh does this itself; the wasm-pack and trunk paths call it (see Trunk.toml).
source "$(dirname "$0")/lib.sh"
vendor_files
