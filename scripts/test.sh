#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests use (nmap, ndiff,
# xsltproc, nftables, iptables, tcpdump, tshark, iproute2, python3, python3-scapy, util-linux,
# libcap2-bin, man-db, time, libxml2-utils, the UDP lab's daemons dnsmasq-base, snmpd and
# chrony, the banner lab's openssh-server, nginx, vsftpd and python3-aiosmtpd, which never
# start outside the tests' namespaces, podman and runc for the scratch image, python3-venv and
# kubernetes-validate for the manifests), then runs formatting, lints, every test, and a
# bounded fuzzing pass. Debian's chrony package replaces systemd-timesyncd as the time daemon.
#
# Works as root (no sudo needed) and as a normal user with sudo: only the package install and
# the test binaries (the lab tests create network namespaces) run as root; building, linting
# and fuzzing run as the caller, so nothing in target/ ends up owned by root.
# Exit status is non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
  as_root() { "$@"; }
  runner=""
elif command -v sudo >/dev/null 2>&1; then
  as_root() { sudo "$@"; }
  runner="sudo"
else
  echo "scripts/test.sh: the tests create network namespaces and need root: run it as root, or install sudo" >&2
  exit 1
fi

need_pkgs=()
for pair in nmap:nmap ndiff:ndiff xsltproc:xsltproc nft:nftables iptables:iptables \
            tcpdump:tcpdump tshark:tshark dumpcap:wireshark-common ip:iproute2 \
            python3:python3 setpriv:util-linux unshare:util-linux capsh:libcap2-bin \
            man:man-db dnsmasq:dnsmasq-base snmpd:snmpd chronyd:chrony \
            sshd:openssh-server nginx:nginx vsftpd:vsftpd xmllint:libxml2-utils \
            podman:podman runc:runc; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 \
    || need_pkgs+=("$pkg")
done
# GNU time measures peak RSS in tests/flat_memory.rs (`time` alone is the shell's keyword).
[ -x /usr/bin/time ] || need_pkgs+=(time)
# Scapy is imported, not run: tests/scapy_compare.rs uses Debian's interpreter's module.
/usr/bin/python3 -c 'import scapy' >/dev/null 2>&1 || need_pkgs+=(python3-scapy)
# tests/scale_out.rs makes a virtual environment for the manifests' validator.
/usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3-venv)
# tests/banners.rs runs Debian's aiosmtpd as its SMTP server with STARTTLS.
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need_pkgs+=(python3-aiosmtpd)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== installing: ${need_pkgs[*]}"
  # Packages must not start their services in this machine's network: refuse service
  # starts for the install (policy-rc.d), then put things back as they were.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  if [ "$created_policy" -eq 1 ]; then
    as_root rm -f /usr/sbin/policy-rc.d
  fi
fi

# tests/scale_out.rs validates deploy/kubernetes with kubernetes-validate (offline schemas),
# from PyPI into a virtual environment of the caller's under target/.
kv=target/tools/kubernetes-validate
if [ ! -x "$kv/bin/kubernetes-validate" ] || ! "$kv/bin/kubernetes-validate" --version 2>/dev/null | grep -qx 1.37.0; then
  echo "== installing kubernetes-validate into $kv"
  rm -rf "$kv"
  /usr/bin/python3 -m venv "$kv"
  "$kv/bin/pip" install -q kubernetes-validate==1.37.0
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== cargo test"
# The tests run a statically linked build (glibc's +crt-static, for the host's gnu target
# named explicitly, so build scripts and proc-macros stay dynamic): tests/scale_out.rs puts
# that very binary in a FROM scratch image.
host=$(rustc -vV | sed -n 's/^host: //p')
prefix="CARGO_TARGET_$(echo "$host" | tr 'a-z-' 'A-Z_')"
static="${prefix}_RUSTFLAGS=-C target-feature=+crt-static"
if [ -n "$runner" ]; then
  # Build as the caller, run each test binary as root.
  env "$static" "${prefix}_RUNNER=$runner" cargo test --release --target "$host" 2>&1
else
  env "$static" cargo test --release --target "$host" 2>&1
fi
if [ -x scripts/fuzz.sh ]; then
  echo "== fuzz (bounded)"
  scripts/fuzz.sh
fi
