#!/usr/bin/env bash
# Build the web portal (web/, docs/portal.md) from its npm packages, with two
# caches outside the clone, so that a fresh clone (CI) installs and builds
# nothing that an earlier build on the machine already did:
#   <cache>/modules-<L>/node_modules   npm ci of package-lock.json (L: its hash)
#   <cache>/dist-<D>/                  vite's output (D: a hash of web/'s files)
# where <cache> is ${KUMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kumo}/web and
# npm's own download cache is <cache>/npm. Only the first `npm ci` needs the
# npm registry; everything after works offline. The source tree is not
# written to: vite runs on a copy of web/ in a temporary directory.
#
#   web/build.sh --modules        print the node_modules directory (installs it)
#   web/build.sh --dist           print the built app's directory (builds it)
#   web/build.sh --embed OUT.c    write the app as C (web/embed.py) for kumod
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KUMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kumo}/web
mkdir -p "$cache"
log() { echo "[web] $*" >&2; }

hash_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

modules() {
  local key dir tmp
  key=$(cd "$here" && hash_of package.json package-lock.json)
  dir=$cache/modules-$key
  if [ ! -d "$dir/node_modules" ]; then
    command -v npm >/dev/null || { log "npm not found: install it (scripts/deps.sh)"; exit 1; }
    log "installing the portal's npm packages (package-lock.json) into $dir"
    tmp=$(mktemp -d "$cache/.modules-XXXXXX")
    cp "$here/package.json" "$here/package-lock.json" "$tmp/"
    if ! (cd "$tmp" && npm ci --cache "$cache/npm" --prefer-offline --no-audit --no-fund \
            --loglevel=error >&2); then
      rm -rf "$tmp"
      log "npm ci failed: the first build needs the npm registry once (then $cache/npm" \
          "holds the packages); or build kumod without the portal: meson configure BUILD -Dportal=disabled"
      exit 1
    fi
    # an atomic rename; if another build got there first, its copy stays
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
    # keep the two newest installs
    ls -dt "$cache"/modules-* 2>/dev/null | tail -n +3 | xargs -r rm -rf
  fi
  echo "$dir/node_modules"
}

dist() {
  local nm key dir tmp
  nm=$(modules)
  key=$(cd "$here" && find . -path ./node_modules -prune -o -type f -print | LC_ALL=C sort |
        xargs sha256sum | sha256sum | cut -c1-16)
  dir=$cache/dist-$key
  if [ ! -f "$dir/index.html" ]; then
    log "building the portal (vite)"
    tmp=$(mktemp -d "$cache/.build-XXXXXX")
    mkdir "$tmp/src"
    tar -C "$here" --exclude=./node_modules -cf - . | tar -C "$tmp/src" -xf -
    ln -s "$nm" "$tmp/src/node_modules"
    if ! (cd "$tmp/src" && node node_modules/vite/bin/vite.js build --logLevel warn \
            --outDir "$tmp/out" --emptyOutDir >&2); then
      rm -rf "$tmp"
      log "vite build failed (see above)"
      exit 1
    fi
    mv -T "$tmp/out" "$dir" 2>/dev/null || true
    rm -rf "$tmp"
    ls -dt "$cache"/dist-* 2>/dev/null | tail -n +6 | xargs -r rm -rf
  fi
  echo "$dir"
}

case "${1:-}" in
--modules) modules ;;
--dist) dist ;;
--embed)
  [ $# -eq 2 ] || { echo "usage: web/build.sh --embed OUT.c" >&2; exit 2; }
  d=$(dist)
  python3 "$here/embed.py" "$d" "$2"
  ;;
*) echo "usage: web/build.sh --modules | --dist | --embed OUT.c" >&2; exit 2 ;;
esac
