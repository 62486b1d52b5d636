#!/usr/bin/env bash
# Benchmarks against peers, in one run, on this machine (as root: the lab benches build network
# namespaces). Usage: scripts/bench.sh [connect syn-loopback send-rate full-port sweep
# full-port6 sweep6 loss congestion memory flat ranking wire udp discovery banners scale-out] (LOSS_RUNS=N sets the runs of loss and
# congestion, default 3). send-rate and full-port also run the binary of BASE_REV (default
# 9914b39, before the probe-module redesign), built in a git worktree under target/, for the
# IPv4 before/after rows; BASE_REV= (empty) skips it. flat also runs the binary of FLAT_REV
# (default 59e6f47, before the flat-memory redesign); FLAT_REV= skips it.
# Results (median of >= 5 runs, min-max, peak RSS, found/missed/false) go to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pair in nmap:nmap masscan:masscan zmap:zmap ethtool:ethtool tshark:tshark \
            dnsmasq:dnsmasq-base snmpd:snmpd chronyd:chrony sshd:openssh-server nginx:nginx \
            vsftpd:vsftpd; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  # Installed daemons must not start in this machine's network (policy-rc.d refuses).
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null; }
  [ "$created_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
fi
/usr/bin/python3 -c "import aiosmtpd" 2>/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-aiosmtpd >/dev/null
cargo build --release --quiet
cargo build --release --quiet --example sendmmsg_ceiling
cargo build --release --quiet --example wire_compare
# Builds the synscan of revision $1 in a git worktree under target/; prints its path.
build_rev() {
  local dir="target/bench-base-$1"
  if [ ! -x "$dir/target/release/synscan" ]; then
    rm -rf "$dir"
    git worktree prune
    git worktree add --detach "$dir" "$1" >/dev/null
    (cd "$dir" && cargo build --release --quiet)
  fi
  echo "$PWD/$dir/target/release/synscan"
}
BASE_REV=${BASE_REV-9914b39}
if [ -n "$BASE_REV" ]; then
  export BASE_REV SYNSCAN_BASE="$(build_rev "$BASE_REV")"
fi
FLAT_REV=${FLAT_REV-59e6f47}
if [ -n "$FLAT_REV" ]; then
  export FLAT_REV SYNSCAN_FLAT_BASE="$(build_rev "$FLAT_REV")"
fi
exec python3 scripts/bench.py "$@"
