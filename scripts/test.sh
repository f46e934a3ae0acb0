#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run them.
# Used by the README's test command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q -c constraints.txt -e '.[dev]'

# The HTML report is tested in a real headless Chromium from Debian's packages.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "note: chromium not found and cannot be installed here; browser tests will be skipped" >&2
    fi
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
python3 -m pytest "$@"
