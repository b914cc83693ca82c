#!/usr/bin/env bash
# Builds the two upstream `maestro` CLIs the flow runner drives, OUTSIDE this repository
# (upstream agent-maestro is AGPL: its code must never enter ours).
#
#   build-clis.sh [UPSTREAM_GIT_DIR]
#
# UPSTREAM_GIT_DIR: a clone (bare is fine) of github.com/raghavared/agent-maestro holding
# 7950ff3 and 653bc6a (default: the tool library's mirror). Output: $REFCLI_DIR/{old,new}
# (default /work/refcli) with bin/maestro wrappers. Needs Node 20 + npm (registry reachable).
# `npm ci` fails upstream (stale lock files), so dependencies are resolved as of each
# commit's date with `npm install --before`.
set -euo pipefail
UP="${1:-/work/.mirror/raghavared+agent-maestro/repo}"
OUT="${REFCLI_DIR:-/work/refcli}"
build() { # name commit before-date
  local name=$1 commit=$2 before=$3 dir="$OUT/$1"
  rm -rf "$dir" && mkdir -p "$dir/bin"
  git -C "$UP" archive "$commit" maestro-cli | tar -x -C "$dir"
  (cd "$dir/maestro-cli" \
    && npm install --before="$before" --ignore-scripts --no-audit --no-fund >/dev/null \
    && ./node_modules/.bin/tsc)
  printf '#!/bin/sh\nexec node %s/maestro-cli/bin/maestro.js "$@"\n' "$dir" > "$dir/bin/maestro"
  chmod +x "$dir/bin/maestro"
  echo "$name: $("$dir/bin/maestro" --version 2>/dev/null || echo built) ($commit)"
}
build old 7950ff3 2026-02-20
build new 653bc6a 2026-07-03
