#!/usr/bin/env bash
# Installs the external programs the tests drive: ffmpeg/ffprobe (publish and
# play back real streams), chromium (browser tests) and a CJK font for its
# screenshots. Debian/Ubuntu only.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v chromium >/dev/null || missing+=(chromium)
# A CJK font, so that the browser test's screenshots show the 简体中文 and
# 繁體中文 edition names instead of empty boxes. Optional: only installed
# when we can, never a reason to fail.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  missing+=(fonts-wqy-zenhei)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing: ${missing[*]} — install them (e.g. 'sudo apt-get install -y ${missing[*]}') and rerun" >&2
  exit 1
fi
echo "installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
