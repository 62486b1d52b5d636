#!/usr/bin/env bash
# The synscan namespace lab. Usage: scripts/lab.sh up|down [PREFIX]
#
# Namespaces (all names start with PREFIX, default "sslab"; interfaces live only inside them):
#   PREFIXscan  the scanner: s0 10.201.0.1/24, s1 10.201.1.1/24, s2 10.201.3.1/24.
#               Routes: 10.201.2.0/24 via 10.201.1.254 (router), 10.202.0.0/20 via
#               10.201.3.2 (any-IP host), 10.203.0.0/24 unreachable, 10.204.0.0/24 prohibit,
#               10.206.0.0/24 blackhole.
#               No default route: nothing leaves the lab.
#   PREFIXtgt   target on the scanner's subnet, 10.201.0.2: open 22,80,443,8080; dropped
#               (filtered, no-response) 81,82; rejected with ICMP admin-prohibited 83;
#               every other port closed (RST). 10.201.0.9 does not exist (no ARP reply).
#   PREFIXrtr   router: r0 10.201.1.254/24, r1 10.201.2.254/24, forwarding on.
#   PREFIXfar   target behind the router, 10.201.2.2: open 80,8443; other ports closed.
#   PREFIXany   any-IP host: a0 10.201.3.2/24 answers for all of 10.202.0.0/20
#               (ip route add local ... dev lo): open 80,443 on every address, others closed.
# Large sweeps (the scanner routes each piece; a /14 of them crosses two gateways):
#   10.212.0.0/14 answered by PREFIXany (open 80,443).
#   10.216.0.0/15 via 10.201.1.254, answered by PREFIXrtr: open 81 only.
#   10.218.0.0/15 via 10.201.3.2, answered by PREFIXany: open 80,443.
# With LAB_BENCH=1 (scripts/bench.sh), also:
#   PREFIXsink  a frame sink: s3 10.201.4.1/24 <-> k0 10.201.4.2/24; the scanner routes
#               10.128.0.0/9 there. k0 runs NAPI in its own kernel thread, pinned to the
#               last CPU, so the sink's receive work is not charged to the sender's core.
#   10.201.0.3  a second target address in PREFIXtgt with BENCH_PORTS (30 ports) open.
#   10.210.0.0/17 and 10.224.0.0/12 answered by PREFIXany like 10.202.0.0/20 (port 80 open).
# IPv6 (ULA fd93::/16, no DAD, no ICMPv6 rate limit; same namespaces):
#   PREFIXscan  s0 fd93::1/64, s1 fd93:1::1/64, s2 fd93:3::1/64. Routes: fd93:2::/64 via
#               fd93:1::fe, fd93:4::/112 via fd93:3::2, fd93:5::/64 unreachable, fd93:6::/64
#               prohibit, fd93:7::/64 blackhole. No default route.
#   PREFIXtgt   fd93::2 and fd93::3 on t0, ports as on 10.201.0.2, except: 83 rejected by
#               ip6tables with icmp6-adm-prohibited, 84 with addr-unreachable, 85 with
#               port-unreachable, 86 with reject-route (nft). fd93::9 does not exist (no NDP).
#   PREFIXrtr   r0 fd93:1::fe/64, r1 fd93:2::fe/64, forwarding on.
#   PREFIXfar   fd93:2::2/64: open 80,8443 like 10.201.2.2.
#   PREFIXany   a0 fd93:3::2/64, answers for all of fd93:4::/112: open 80,443, others closed.
# Listeners are python3 processes that exit by themselves after LAB_TTL seconds (default 900);
# `down` kills them by PID and deletes the namespaces by name.
set -euo pipefail
cmd=${1:-}
P=${2:-sslab}
STATE=/tmp/synscan-lab
mkdir -p "$STATE"
PIDS="$STATE/$P.pids"
TTL=${LAB_TTL:-900}

ns() { ip netns exec "$P$1" "${@:2}"; }

listen() { # namespace, comma-separated ports: IPv4 and IPv6 listeners on every address
  ip netns exec "$P$1" timeout "$TTL" python3 -c "
import socket,time
ss=[]
for p in [$2]:
    for fam,addr in ((socket.AF_INET,'0.0.0.0'),(socket.AF_INET6,'::')):
        s=socket.socket(fam); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
        if fam==socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,1)
        s.bind((addr,p)); s.listen(4096); ss.append(s)
time.sleep($TTL)" >/dev/null 2>&1 &
  echo $! >> "$PIDS"
  local first=${2%%,*}
  for _ in $(seq 1 100); do
    ns "$1" ss -Hltn "sport = :$first" | grep -q LISTEN && return 0
    sleep 0.05
  done
  echo "lab.sh: listener in $P$1 did not start" >&2
  return 1
}

down() {
  if [ -f "$PIDS" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$PIDS"
    rm -f "$PIDS"
  fi
  for n in scan tgt rtr far any sink; do
    ip netns del "$P$n" 2>/dev/null || true
  done
}

BENCH_PORTS=7,113,222,1000,1723,2049,3306,4444,5060,5432,5900,6379,7001,8000,8081,8443,9000,9090,9200,10000,11211,15672,20000,25565,27017,32768,40000,50000,60000,65535

bench_extras() {
  ip netns add "${P}sink"
  ns sink ip link set lo up
  ip link add s3 netns "${P}scan" type veth peer name k0 netns "${P}sink"
  ns scan ip addr add 10.201.4.1/24 dev s3
  ns sink ip addr add 10.201.4.2/24 dev k0
  ns scan ip link set s3 up
  ns sink ip link set k0 up
  # The sink's receive work runs in its own NAPI thread instead of inside the sender's send
  # calls. (Not on the targets: NAPI gives a veth a 256-frame ring that drops bursts, where
  # the default path queues 1000 per CPU; the peers would lose replies to the lab itself.)
  ns sink ethtool -K k0 gro on rx-gro-list on >/dev/null
  ns sink sh -c 'echo 1 > /sys/class/net/k0/threaded'
  # ... and that thread stays on the last CPU: when the scheduler put it on the sender's core,
  # every sender (synscan, masscan, zmap alike) shared its core with the sink and the send
  # rates halved at random between runs.
  last_cpu=$(( $(nproc) - 1 ))
  if [ "$last_cpu" -gt 0 ]; then
    for pid in $(ps -eo pid=,comm= | awk '$2 ~ /^napi\/k0-/ {print $1}'); do
      taskset -p -c "$last_cpu" "$pid" >/dev/null 2>&1 || true
    done
  fi
  ns scan ip route add 10.128.0.0/9 via 10.201.4.2
  ns tgt ip addr add 10.201.0.3/24 dev t0
  ns any ip route add local 10.210.0.0/17 dev lo
  ns scan ip route add 10.210.0.0/17 via 10.201.3.2
  ns any ip route add local 10.224.0.0/12 dev lo
  ns scan ip route add 10.224.0.0/12 via 10.201.3.2
  listen tgt "$BENCH_PORTS"
}

up() {
  down
  trap 'down' ERR
  for n in scan tgt rtr far any; do
    ip netns add "$P$n"
    ns "$n" ip link set lo up
    # No duplicate address detection (addresses usable at once) and no ICMPv6 rate limit
    # (every rejected probe answered).
    ns "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.icmp.ratelimit=0
  done
  ip link add s0 netns "${P}scan" type veth peer name t0 netns "${P}tgt"
  ip link add s1 netns "${P}scan" type veth peer name r0 netns "${P}rtr"
  ip link add r1 netns "${P}rtr" type veth peer name f0 netns "${P}far"
  ip link add s2 netns "${P}scan" type veth peer name a0 netns "${P}any"
  ns scan ip addr add 10.201.0.1/24 dev s0
  ns scan ip addr add 10.201.1.1/24 dev s1
  ns scan ip addr add 10.201.3.1/24 dev s2
  ns tgt ip addr add 10.201.0.2/24 dev t0
  ns rtr ip addr add 10.201.1.254/24 dev r0
  ns rtr ip addr add 10.201.2.254/24 dev r1
  ns far ip addr add 10.201.2.2/24 dev f0
  ns any ip addr add 10.201.3.2/24 dev a0
  for pair in scan:s0 scan:s1 scan:s2 tgt:t0 rtr:r0 rtr:r1 far:f0 any:a0; do
    ns "${pair%%:*}" ip link set "${pair#*:}" up
  done
  ns scan ip -6 addr add fd93::1/64 dev s0 nodad
  ns scan ip -6 addr add fd93:1::1/64 dev s1 nodad
  ns scan ip -6 addr add fd93:3::1/64 dev s2 nodad
  ns tgt ip -6 addr add fd93::2/64 dev t0 nodad
  ns tgt ip -6 addr add fd93::3/64 dev t0 nodad
  ns rtr ip -6 addr add fd93:1::fe/64 dev r0 nodad
  ns rtr ip -6 addr add fd93:2::fe/64 dev r1 nodad
  ns far ip -6 addr add fd93:2::2/64 dev f0 nodad
  ns any ip -6 addr add fd93:3::2/64 dev a0 nodad
  ns rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ns scan ip -6 route add fd93:2::/64 via fd93:1::fe
  ns scan ip -6 route add fd93:4::/112 via fd93:3::2
  ns scan ip -6 route add unreachable fd93:5::/64
  ns scan ip -6 route add prohibit fd93:6::/64
  ns scan ip -6 route add blackhole fd93:7::/64
  ns far ip -6 route add default via fd93:2::fe
  ns any ip -6 route add local fd93:4::/112 dev lo
  ns any ip -6 route add fd93::/16 via fd93:3::1
  ns scan ip route add 10.201.2.0/24 via 10.201.1.254
  ns scan ip route add 10.202.0.0/20 via 10.201.3.2
  ns scan ip route add unreachable 10.203.0.0/24
  ns scan ip route add prohibit 10.204.0.0/24
  ns scan ip route add blackhole 10.206.0.0/24
  ns far ip route add default via 10.201.2.254
  ns any ip route add local 10.202.0.0/20 dev lo
  ns any ip route add 10.201.0.0/16 via 10.201.3.1
  ns scan ip route add 10.212.0.0/14 via 10.201.3.2
  ns any ip route add local 10.212.0.0/14 dev lo
  ns scan ip route add 10.216.0.0/15 via 10.201.1.254
  ns rtr ip route add local 10.216.0.0/15 dev lo
  ns scan ip route add 10.218.0.0/15 via 10.201.3.2
  ns any ip route add local 10.218.0.0/15 dev lo
  ns tgt nft -f - <<'NFT'
table inet lab {
  chain input {
    type filter hook input priority 0;
    tcp dport { 81, 82 } drop
    tcp dport 83 reject with icmp type admin-prohibited
  }
}
NFT
  ns tgt ip6tables -A INPUT -p tcp --dport 83 -j REJECT --reject-with icmp6-adm-prohibited
  ns tgt nft -f - <<'NFT'
table ip6 lab6 {
  chain input {
    type filter hook input priority 0;
    tcp dport 84 reject with icmpv6 type addr-unreachable
    tcp dport 85 reject with icmpv6 type port-unreachable
    tcp dport 86 reject with icmpv6 type reject-route
  }
}
NFT
  listen tgt 22,80,443,8080
  listen far 80,8443
  listen any 80,443
  listen rtr 81
  if [ "${LAB_BENCH:-0}" = 1 ]; then bench_extras; fi
  trap - ERR
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: scripts/lab.sh up|down [PREFIX]" >&2; exit 2 ;;
esac
