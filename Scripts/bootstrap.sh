#!/usr/bin/env bash
# Installs what Cairn needs on a fresh Debian machine, only when missing:
# the C libraries' -dev packages, and the tools the test suite drives.
set -euo pipefail
need=()
for p in liblz4-dev libsqlite3-dev libssl-dev zlib1g-dev pkg-config sqlite3 python3 python3-venv curl unzip zip libarchive-tools p7zip-full util-linux; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${1:-}" = "--bench" ]; then
  for p in restic borgbackup; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "bootstrap: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "bootstrap: swift is not on PATH (Swift 6.x toolchain required)" >&2; exit 1; }
