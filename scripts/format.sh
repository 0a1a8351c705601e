#!/usr/bin/env bash
# Checks that the Swift sources follow .swift-format (exit 1 and the places otherwise).
# Code generated from schemas (folders named Generated) is left as its generator writes it.
# Usage: scripts/format.sh          check
#        scripts/format.sh --fix    rewrite the files in place
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find Package.swift Sources Tests bench/loadtool/Package.swift bench/loadtool/Sources bench/mqtt/Package.swift bench/mqtt/Sources bench/flows/Sources \
  -name '*.swift' -not -path '*/Generated/*' | sort)
if [ "${1:-}" = "--fix" ]; then
  exec swift format format --in-place "${files[@]}"
fi
swift format lint --strict "${files[@]}"
