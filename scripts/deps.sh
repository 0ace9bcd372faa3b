#!/usr/bin/env bash
# Installs the external programs the tests drive: ffmpeg/ffprobe (publish and
# play back real streams) and chromium (browser tests). Debian/Ubuntu only.
set -euo pipefail
missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v chromium >/dev/null || missing+=(chromium)
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
