#!/usr/bin/env bash
# Debian packages the test suite starts for real: PostgreSQL (store tests) and the
# GStreamer RTSP server driven by python3-gi (live daemon tests), the mosquitto MQTT broker
# (output tests; openssl makes their TLS certificates) and Chromium (dashboard browser tests, driven by Playwright). Installs only what is missing.
set -euo pipefail
PKGS=(postgresql python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base
      gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
      mosquitto chromium openssl)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "== installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi
