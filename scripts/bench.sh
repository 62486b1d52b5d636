#!/usr/bin/env bash
# Benchmarks against peers, in one run, on this machine (as root: the lab benches build network
# namespaces). Usage: scripts/bench.sh [connect syn-loopback send-rate full-port sweep loss
# congestion memory ranking] (LOSS_RUNS=N sets the runs of loss and congestion, default 3)
# Results (median of >= 5 runs, min-max, peak RSS, found/missed/false) go to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for t in nmap masscan zmap ethtool tshark; do command -v "$t" >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; }
fi
cargo build --release --quiet
cargo build --release --quiet --example sendmmsg_ceiling
exec python3 scripts/bench.py "$@"
