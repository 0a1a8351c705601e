#!/usr/bin/env bash
# Builds Sluice for release the way it is meant to run: optimized, with the run-time exclusivity checks left to the
# debug builds the tests run, and the Swift runtime linked into the binary (docs/release-build.md says why).
# Arguments go to `swift build`, e.g. `scripts/build-release.sh --product sluice` or
# `scripts/build-release.sh --show-bin-path`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec swift build -c release -Xswiftc -enforce-exclusivity=unchecked --static-swift-stdlib "$@"
