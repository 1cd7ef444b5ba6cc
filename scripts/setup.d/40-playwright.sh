#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs playwright-core (npm; no browser download: the test drives Debian's /usr/bin/chromium) into $FP_CACHE_DIR/playwright for tests/web.
# Idempotent: does nothing when the package is already there.
set -euo pipefail
cache=${FP_CACHE_DIR:-$HOME/.cache/framepipe}
dest=$cache/playwright
log() { printf 'setup/playwright: %s\n' "$*" >&2; }

if [ -f "$dest/node_modules/playwright-core/package.json" ]; then
  log "playwright-core cached in $dest"
  exit 0
fi
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name":"framepipe-web-test","private":true}' >package.json
log "installing playwright-core@1 from npm into $dest"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund playwright-core@1 >&2
[ -f node_modules/playwright-core/package.json ] || { log "error: playwright-core did not install"; exit 1; }
log "playwright-core $(node -p 'require("./node_modules/playwright-core/package.json").version') in $dest"
