#!/usr/bin/env bash
# Benchmarks against peers, in one run, on this machine. Usage: scripts/bench.sh [connect ...]
# Results (median of >= 5 runs, min-max, peak RSS, found/missed/false) go to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 scripts/bench.py "$@"
