#!/usr/bin/env bash
# Installs the load generator used by bench/run.sh (wrk, from Debian's packages).
set -euo pipefail
if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
wrk --version 2>&1 | head -1 || true
