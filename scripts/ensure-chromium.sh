#!/usr/bin/env bash
# Browser tests drive the system Chromium through Playwright (never a downloaded browser).
set -euo pipefail
for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null 2>&1; then exit 0; fi
done
echo "Chromium is missing: installing Debian's chromium package" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
