#!/usr/bin/env bash
# Debian packages the tests, the PDF report and the browser tests need. Idempotent: installs only
# what is missing, so a machine that has them all spends no time here.
set -euo pipefail
# fonts-noto-cjk: Japanese, Korean and Chinese site names in the PDF report (DejaVu has no CJK)
# python3-venv: `python3 -m venv` (make's first step) on a bare Debian
packages=(python3-venv chromium chromium-driver poppler-utils fonts-dejavu-core fonts-noto-cjk
          libpango-1.0-0 libpangoft2-1.0-0 libreoffice-calc-nogui)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
