#!/usr/bin/env bash
# Bounded fuzzing of every parser (cargo-fuzz, libFuzzer): wire frames, bare IPv4 and each
# transport, the pcap reader, the toolkit SPEC parser, target/port/duration parsing and the
# capture-filter compiler, the resume file, UDP answers and payload files, banners (greetings, HTTP, TLS, X.509) and merge's shard files. FUZZ_SECONDS per target (default 20: ten targets keep the README test command under 20 minutes). Any crash fails the run; new
# corpus entries go to a scratch directory, the seed corpus in fuzz/corpus is only read.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
secs=${FUZZ_SECONDS:-20}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export RUSTC_BOOTSTRAP=1
for t in frame ipv4 pcap spec targets filter resume udp_reply banner merge; do
  mkdir -p "$scratch/$t"
  echo "-- fuzz $t for ${secs}s"
  log="$scratch/$t.log"
  if ! cargo fuzz run "$t" "$scratch/$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $t failed (crash input under fuzz/artifacts/$t)" >&2
    exit 1
  fi
  grep -E "^Done [0-9]+ runs" "$log"
done
