#!/usr/bin/env bash
# A headless browser for the dashboard's tests (tests/dashboard/, GitHub issue #14).
#
# The tests drive Debian's `chromium` through Playwright's `executable_path`: Playwright's own
# browser download is not reachable from CI, the Debian mirror is. This script works on a fresh
# Debian machine as root (it installs the package when `chromium` is missing) and on a
# developer's machine (where it only checks). Everything it says goes to stderr.
set -euo pipefail

say() { echo "chromium.sh: $*" >&2; }

if command -v chromium >/dev/null 2>&1; then
    say "$(chromium --version 2>/dev/null || echo chromium) is installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    say "chromium is missing and this is not root: install Debian's 'chromium' package"
    exit 1
fi
say "installing chromium from the Debian mirror"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
