#!/usr/bin/env bash
# Checks that the Swift sources follow .swift-format (exit 1 and the places otherwise).
# Usage: scripts/format.sh          check
#        scripts/format.sh --fix    rewrite the files in place
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Package.swift Sources Tests bench/loadtool/Package.swift bench/loadtool/Sources)
if [ "${1:-}" = "--fix" ]; then
  exec swift format format --in-place --recursive "${paths[@]}"
fi
swift format lint --strict --recursive "${paths[@]}"
