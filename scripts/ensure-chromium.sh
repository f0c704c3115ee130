#!/usr/bin/env bash
# Debian's chromium is the browser for screenshots and E2E tests (Playwright cannot download
# its own here). Installs it when missing and we are root; otherwise says what to install.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "tmux-builder needs Debian's chromium: run 'sudo apt-get install -y chromium' and try again." >&2
  exit 1
fi
echo "Installing Debian chromium (needed for screenshots and E2E tests)..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
