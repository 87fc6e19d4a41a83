#!/usr/bin/env bash
# Installs the Debian 12 packages llmux needs to build, test and benchmark.
# Idempotent and quiet when everything is present; uses sudo when not root.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libuv1-dev libh2o-dev libwslay-dev libcurl4-openssl-dev libjsmn-dev libcjson-dev libfyaml-dev
      libpcre2-dev libsqlite3-dev sqlite3 libhiredis-dev libssl-dev
      libcriterion-dev wrk nginx-light openssl curl nodejs npm valgrind clang-format
      redis-server)
missing=()
for p in "${PKGS[@]}"; do
    # nodejs may come from another source with npm bundled: accept working binaries
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
