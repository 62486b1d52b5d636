#!/usr/bin/env bash
# Benchmarks against peers, in one run, on this machine (as root: the lab benches build network
# namespaces). Usage: scripts/bench.sh [connect syn-loopback send-rate full-port sweep
# full-port6 sweep6 loss congestion memory ranking wire] (LOSS_RUNS=N sets the runs of loss and
# congestion, default 3). send-rate and full-port also run the binary of BASE_REV (default
# 9914b39, before the probe-module redesign), built in a git worktree under target/, for the
# IPv4 before/after rows; BASE_REV= (empty) skips it.
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
cargo build --release --quiet --example wire_compare
BASE_REV=${BASE_REV-9914b39}
if [ -n "$BASE_REV" ]; then
  base_dir="target/bench-base-$BASE_REV"
  if [ ! -x "$base_dir/target/release/synscan" ]; then
    rm -rf "$base_dir"
    git worktree prune
    git worktree add --detach "$base_dir" "$BASE_REV" >/dev/null
    (cd "$base_dir" && cargo build --release --quiet)
  fi
  export BASE_REV SYNSCAN_BASE="$PWD/$base_dir/target/release/synscan"
fi
exec python3 scripts/bench.py "$@"
