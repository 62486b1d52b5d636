#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests use (nmap, ndiff,
# xsltproc, nftables, iptables, tcpdump, tshark, iproute2, python3), then runs formatting,
# lints, every test, and a bounded fuzzing pass. Needs root: the lab tests create network
# namespaces. Exit status is non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for pair in nmap:nmap ndiff:ndiff xsltproc:xsltproc nft:nftables iptables:iptables \
            tcpdump:tcpdump tshark:tshark ip:iproute2 python3:python3 setpriv:util-linux \
            capsh:libcap2-bin; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== installing: ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== cargo test"
cargo test --release 2>&1
if [ -x scripts/fuzz.sh ]; then
  echo "== fuzz (bounded)"
  scripts/fuzz.sh
fi
