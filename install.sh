#!/usr/bin/env bash
# Install everything mcumixq needs on a fresh Debian machine with Python 3.11:
#   apt: gcc-arm-none-eabi libnewlib-arm-none-eabi dataset-fashion-mnist qemu-system-arm
#   pip: this package (editable) with its test extras and torch pinned to the CPU build 2.13.0.
# Safe to run again; apt only runs as root (otherwise it says what to install).
set -euo pipefail
cd "$(dirname "$0")"
APT_PKGS="gcc-arm-none-eabi libnewlib-arm-none-eabi dataset-fashion-mnist qemu-system-arm"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "install.sh: not root; please run: sudo apt-get install --no-install-recommends$missing" >&2
  fi
fi
PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check "torch==2.13.0" -e ".[test]" 2>&1 \
  | grep -v -e "^WARNING: Location" -e "Running pip as the 'root'" || true
"$PY" -c "import mcumixq, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
