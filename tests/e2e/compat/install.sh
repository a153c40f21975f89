#!/usr/bin/env bash
# Installs the pinned npm packages of the compatibility tests into a cache outside the clone.
# Idempotent (a stamp of package.json), safe to run concurrently (flock). On success prints the
# cache directory, which holds node_modules/. Exit 3 when Node.js >= 20 or npm is missing (the
# tests skip then); any other failure is an error.
set -euo pipefail

if ! command -v node >/dev/null 2>&1; then
    echo "Node.js >= 20 is not installed (no 'node' on PATH)" >&2
    exit 3
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
    echo "Node.js >= 20 is required; found $(node --version 2>/dev/null || echo unknown)" >&2
    exit 3
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed (Node.js $(node --version) has no 'npm' on PATH)" >&2
    exit 3
fi

here=$(cd "$(dirname "$0")" && pwd)
home="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
cache="${EDGECACHED_NPM_CACHE:-${XDG_CACHE_HOME:-$home/.cache}/edgecached/npm-compat}"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
stamp="$(sha256sum "$here/package.json" | cut -d' ' -f1) node$major"
if [ -d "$cache/node_modules" ] && [ "$(cat "$cache/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$cache"
    exit 0
fi
rm -f "$cache/.stamp"
cp "$here/package.json" "$cache/package.json"
# --ignore-scripts: workerd's postinstall only re-checks the binary its platform package ships;
# the tests run that binary directly.
(cd "$cache" && HOME="$home" npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
echo "$stamp" >"$cache/.stamp"
echo "$cache"
