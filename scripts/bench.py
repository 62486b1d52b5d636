#!/usr/bin/env python3
"""Side-by-side benchmarks of synscan and its peers on the same work, in one run.

Every probe goes to 127.0.0.0/8 or to namespaces this script creates and removes. Each tool's
result is checked against ground truth; the table goes into docs/benchmarks.md between
markers, with the machine's description.
"""
import os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, platform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYNSCAN = os.path.join(ROOT, "target", "release", "synscan")
# The binary from before the probe-module redesign (issue 12), built by bench.sh from
# BASE_REV, for the IPv4 before/after rows.
SYNSCAN_BASE = os.environ.get("SYNSCAN_BASE", "")
BASE_REV = os.environ.get("BASE_REV", "")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


LAST_STDERR = [""]


TIMEOUT = 300


def timed(cmd, timeout=TIMEOUT):
    """Runs cmd; returns (wall seconds, peak RSS KiB, stdout), or (None, 0, "") when it ran
    past `timeout` (it is then killed with its whole process group). Keeps stderr in
    LAST_STDERR."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", tf.name] + cmd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            LAST_STDERR[0] = ""
            return None, 0, ""
        LAST_STDERR[0] = err
        wall = time.monotonic() - t0
        rss = 0
        for line in open(tf.name):
            if line.strip().isdigit():
                rss = int(line.strip())
        return wall, rss, out


class LoopNs:
    """A namespace of the bench's own with loopback up and TCP listeners on `ports` (all
    addresses): the loopback benches scan it, so the truth is exactly `ports`. Removed on
    exit, with its listener."""

    def __init__(self, ports):
        self.name = "sb%dlo" % (os.getpid() % 100000)
        self.ports = set(ports)

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        code = ("import socket,time\nss=[]\n"
                f"for p in {sorted(self.ports)}:\n"
                "  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                "  s.bind(('0.0.0.0',p)); s.listen(1024); ss.append(s)\n"
                "print('ready',flush=True)\ntime.sleep(3600)\n")
        self.proc = subprocess.Popen(self.exec(["python3", "-c", code]), stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        return self

    def exec(self, cmd):
        return ["ip", "netns", "exec", self.name] + cmd

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        subprocess.run(["ip", "netns", "del", self.name])


# Thirty listening ports spread over the range.
LOOP_PORTS = {1, 7, 21, 22, 25, 80, 443, 1023, 1024, 3306, 5432, 6379, 8000, 8080, 8443, 9000,
              9999, 10000, 20000, 31337, 32768, 40000, 44444, 49152, 50000, 55555, 60000,
              61000, 65534, 65535}


def nmap_ranking():
    """(TCP ports by descending open frequency, ties by port; {port: frequency}) from the
    installed nmap-services, or None."""
    path = "/usr/share/nmap/nmap-services"
    if not os.path.exists(path):
        return None
    freq = {}
    for line in open(path):
        f = line.split("#")[0].split()
        if len(f) >= 3 and f[1].endswith("/tcp"):
            freq[int(f[1].split("/")[0])] = max(freq.get(int(f[1].split("/")[0]), 0.0), float(f[2]))
    ranked = sorted((p for p in freq if freq[p] > 0), key=lambda p: (-freq[p], p))
    return ranked, freq


def kernel_drops(stderr):
    """synscan's summary: 'N dropped by kernel'."""
    m = re.search(r"(\d+) dropped by kernel", stderr)
    return int(m.group(1)) if m else None


def measure(name, cmd, parse, truth, runs=RUNS):
    walls, rsss, found_sets, drops, timeouts = [], [], [], [], 0
    for _ in range(runs):
        wall, rss, out = timed(cmd)
        if wall is None:
            timeouts += 1
            wall = TIMEOUT
        walls.append(wall)
        rsss.append(rss)
        found_sets.append(parse(out))
        d = kernel_drops(LAST_STDERR[0])
        if d is not None:
            drops.append(d)
    worst_missed = max(len(truth - f) for f in found_sets)
    worst_false = max(len(f - truth) for f in found_sets)
    row = {
        "tool": name,
        "median": statistics.median(walls),
        "min": min(walls),
        "max": max(walls),
        "rss": max(rsss) / 1024.0,
        "found": min(len(f & truth) for f in found_sets),
        "missed": worst_missed,
        "false": worst_false,
        "truth": len(truth),
        "cmd": " ".join(cmd),
        "drops": max(drops) if drops else None,
        "timeouts": timeouts,
        "runs": runs,
    }
    print(f"  {name:10} median {row['median']:.3f}s  [{row['min']:.3f}-{row['max']:.3f}]  "
          f"{row['rss']:.1f} MiB  found {row['found']}/{len(truth)} missed<= {worst_missed} "
          f"false<= {worst_false}", flush=True)
    return row


def merge(rows):
    """One row from single-run rows of one tool."""
    walls = [r["median"] for r in rows]
    r = dict(rows[0])
    r.update(median=statistics.median(walls), min=min(walls), max=max(walls),
             rss=max(x["rss"] for x in rows), found=min(x["found"] for x in rows),
             missed=max(x["missed"] for x in rows), false=max(x["false"] for x in rows),
             timeouts=sum(x["timeouts"] for x in rows), runs=len(rows))
    d = [x["drops"] for x in rows if x["drops"] is not None]
    r["drops"] = max(d) if d else None
    print(f"  {r['tool']:10} median {r['median']:.3f}s  [{r['min']:.3f}-{r['max']:.3f}] "
          f"(merged {len(rows)} runs)", flush=True)
    return r


def parse_list(out):
    return {int(l.split()[2]) for l in out.splitlines() if l.startswith("open tcp ")}


def parse_nmap_grepable(out):
    ports = set()
    for m in re.finditer(r"(\d+)/open/tcp", out):
        ports.add(int(m.group(1)))
    return ports


def parse_rustscan(out):
    ports = set()
    for m in re.finditer(r"\[([0-9,]*)\]", out):
        ports |= {int(p) for p in m.group(1).split(",") if p}
    return ports


def bench_connect():
    """synscan -sT vs nmap -sT vs RustScan: 1 host x 65535 ports on a namespace's loopback
    with 30 listeners."""
    with LoopNs(LOOP_PORTS) as lo:
        truth = lo.ports
        print(f"connect: 127.0.0.1 -p- with {len(truth)} listening ports", flush=True)
        rows = [measure("synscan", lo.exec([SYNSCAN, "-sT", "127.0.0.1", "-p-", "--format",
                                            "list", "--no-progress"]), parse_list, truth)]
        if shutil.which("nmap"):
            rows.append(measure("nmap", lo.exec(["nmap", "-sT", "-p-", "-T4", "-n", "127.0.0.1",
                                                 "-oG", "-"]), parse_nmap_grepable, truth))
        rustscan = shutil.which("rustscan") or os.path.expanduser("~/.cargo/bin/rustscan")
        if os.path.exists(rustscan):
            rows.append(measure("rustscan", lo.exec([rustscan, "-a", "127.0.0.1", "-r",
                                                     "1-65535", "-g", "--ulimit", "20000"]),
                                parse_rustscan, truth))
        return rows


def bench_syn_loopback():
    """synscan -sS vs nmap -sS on a namespace's loopback: all ports, and the top 1000."""
    with LoopNs(LOOP_PORTS) as lo:
        truth = lo.ports
        print(f"syn-loopback: 127.0.0.1 -p- with {len(truth)} listening ports", flush=True)
        rows = [measure("synscan", lo.exec([SYNSCAN, "-sS", "127.0.0.1", "-p-", "--format",
                                            "list", "--no-progress"]), parse_list, truth)]
        if shutil.which("nmap"):
            rows.append(measure("nmap", lo.exec(["nmap", "-sS", "-p-", "-T4", "-n", "-Pn",
                                                 "127.0.0.1", "-oG", "-"]),
                                parse_nmap_grepable, truth))
        ranked = nmap_ranking()
        top = set(ranked[0][:1000]) if ranked else {
            int(p) for p in open(os.path.join(ROOT, "data", "top-tcp-ports.txt")).read().split()[:1000]}
        small = truth & top
        print(f"syn-loopback: 127.0.0.1 --top-ports 1000 ({len(small)} listening among them)",
              flush=True)
        rows.append(measure("synscan top-1000", lo.exec([SYNSCAN, "-sS", "127.0.0.1",
                                                         "--top-ports", "1000", "--format",
                                                         "list", "--no-progress"]),
                            parse_list, small))
        if shutil.which("nmap"):
            rows.append(measure("nmap top-1000", lo.exec(["nmap", "-sS", "-T4", "-n", "-Pn",
                                                          "127.0.0.1", "-oG", "-"]),
                                parse_nmap_grepable, small))
        return rows


def bench_ranking():
    """How much of nmap's measured open-port frequency each default port list covers (only
    where nmap-services is installed: its data is read, never shipped)."""
    ranked = nmap_ranking()
    if ranked is None:
        print("ranking: no /usr/share/nmap/nmap-services here: skipped", flush=True)
        return []
    order, freq = ranked
    total = sum(freq.values())
    shipped = [int(p) for p in open(os.path.join(ROOT, "data", "top-tcp-ports.txt")).read().split()]
    rows = []
    for n in (100, 1000):
        for name, ports in (("nmap-services ranking (synscan's default where installed)", order),
                            ("synscan's shipped ranking (fallback)", shipped)):
            cov = sum(freq.get(p, 0.0) for p in ports[:n]) / total
            rows.append({"tool": f"top {n}: {name}", "coverage": cov,
                         "agree": len(set(ports[:n]) & set(order[:n])), "n": n})
            print(f"  {rows[-1]['tool']}: {cov:.1%} of the frequency mass, "
                  f"{rows[-1]['agree']}/{n} in nmap's top {n}", flush=True)
    return rows


def ranking_table(title, rows, note):
    lines = [f"### {title}", "", note, "",
             "| port list | share of nmap's open-frequency mass | ports also in nmap's own top N |",
             "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tool']} | {r['coverage']:.1%} | {r['agree']}/{r['n']} |")
    if not rows:
        lines.append("| (no nmap-services on this machine) | | |")
    lines.append("")
    return "\n".join(lines)


LAB = "sb%d" % (os.getpid() % 100000)
BENCH_PORTS = {7, 113, 222, 1000, 1723, 2049, 3306, 4444, 5060, 5432, 5900, 6379, 7001, 8000,
               8081, 8443, 9000, 9090, 9200, 10000, 11211, 15672, 20000, 25565, 27017, 32768,
               40000, 50000, 60000, 65535}
FAKE_MAC = "02:00:00:00:00:01"


def ns(name):
    return ["ip", "netns", "exec", LAB + name]


def ns_read(name, path):
    return subprocess.run(ns(name) + ["cat", path], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.strip()


class Lab:
    """scripts/lab.sh with its bench extras (sink, 10.201.0.3, any-IP /17), removed on exit."""

    def __enter__(self):
        env = dict(os.environ, LAB_BENCH="1", LAB_TTL="1800")
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "lab.sh"), "up", LAB], env=env,
                       check=True)
        return self

    def __exit__(self, *exc):
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "lab.sh"), "down", LAB])


class Keepalive:
    """A datagram every 0.2 s from namespace `src` to `dst` (masscan 1.3.2 blocks in poll() on a
    silent interface after its wait). The process also gives /proc/PID/net/dev of `src`."""

    def __init__(self, src, dst, secs=1500):
        code = ("import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                f"end=time.time()+{secs}\n"
                f"while time.time()<end:\n"
                f"  try: s.sendto(b'k',('{dst}',9))\n"
                "  except OSError: pass\n"  # a loss rule dropped it: try the next one
                "  time.sleep(0.2)\n")
        self.proc = subprocess.Popen(ns(src) + ["python3", "-c", code])

    def counters(self, iface):
        """(rx_packets, rx_dropped) of `iface` in the keepalive's namespace (waiting up to 2 s
        for `ip netns exec` to have entered it)."""
        for _ in range(40):
            for line in open(f"/proc/{self.proc.pid}/net/dev"):
                name, _, rest = line.partition(":")
                if name.strip() == iface:
                    f = rest.split()
                    return int(f[1]), int(f[3])
            time.sleep(0.05)
        raise RuntimeError(f"no interface {iface}")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def masscan(targets, ports, iface, src, router_mac, *extra):
    """masscan from the scanner namespace's `iface` (address `src`), every frame to
    `router_mac`, open ports listed as `open tcp PORT IP TS` (our list format)."""
    return ["masscan", targets, "-p" + ports, "--router-mac", router_mac, "--adapter", iface,
            "--adapter-ip", src, "--adapter-mac", ns_read("scan", f"/sys/class/net/{iface}/address"),
            *extra]


def send_rate(ka, cmd, timeout=120):
    """Runs cmd; returns (frames counted at the sink's k0, rate over the sending period)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples = []
    deadline = time.monotonic() + timeout
    while p.poll() is None and time.monotonic() < deadline:
        samples.append((time.monotonic(), ka.counters("k0")[0]))
        time.sleep(0.01)
    if p.poll() is None:
        p.kill()
    err = p.communicate()[1]
    samples.append((time.monotonic(), ka.counters("k0")[0]))
    base = samples[0][1]
    moving = [i for i in range(1, len(samples)) if samples[i][1] != samples[i - 1][1]]
    if not moving:
        return 0, 0.0, err
    first, last = moving[0] - 1, moving[-1]
    frames = samples[-1][1] - base
    secs = samples[last][0] - samples[first][0]
    return frames, (samples[last][1] - samples[first][1]) / secs, err


def bench_send_rate():
    """One sender thread, SYN frames into a veth to a sink that drops them; rate counted at the
    sink's interface counters."""
    with Lab():
        ka = Keepalive("sink", "10.201.4.1")
        try:
            work = "10.128.0.0/11"
            n = 1 << 21
            syn = [SYNSCAN, work, "-p", "80", "--router-mac", FAKE_MAC, "--wait", "10ms",
                   "--retries", "0", "--include-broadcast", "--format", "list", "--no-progress"]
            tools = [
                ("synscan", syn),
                ("synscan --send-path ring", syn + ["--send-path", "ring"]),
                ("synscan --send-path pnet", syn + ["--send-path", "pnet"]),
            ]
            if os.path.exists(SYNSCAN_BASE):
                tools.append((f"synscan before ({BASE_REV})", [SYNSCAN_BASE] + syn[1:]))
            tools += [
                ("masscan", masscan(work, "80", "s3", "10.201.4.1", FAKE_MAC,
                                    "--rate", "100000000", "--wait", "0")),
                ("zmap", ["zmap", work, "-p", "80", "-r", "0", "-c", "0", "-G", FAKE_MAC,
                          "-i", "s3", "-S", "10.201.4.1", "-b", "/dev/null", "-o", "/dev/null",
                          "-q"]),
                ("bare sendmmsg loop (ceiling)",
                 [os.path.join(ROOT, "target", "release", "examples", "sendmmsg_ceiling"), "s3",
                  FAKE_MAC, str(n), "bypass"]),
            ]
            rows = []
            print(f"send-rate: {work} x port 80 ({n} frames) into a veth sink", flush=True)
            # Warm-up, not counted: the first runs into a fresh sink were 40% slower for
            # whichever tool came first.
            for _ in range(2):
                send_rate(ka, ns("scan") + tools[-1][1])
            tools = [(name, cmd) for name, cmd in tools if shutil.which(cmd[0])]
            # Round-robin over the tools, so that drift in the machine's state (the sink's
            # thread, the host's other guests) falls on every tool alike.
            rates = {name: [] for name, _ in tools}
            counts = {name: [] for name, _ in tools}
            for _ in range(RUNS):
                for name, cmd in tools:
                    frames, rate, _ = send_rate(ka, ns("scan") + cmd)
                    rates[name].append(rate)
                    counts[name].append(frames)
            for name, cmd in tools:
                rs = rates[name]
                row = {"tool": name, "median": statistics.median(rs), "min": min(rs),
                       "max": max(rs), "frames": min(counts[name]), "cmd": " ".join(cmd)}
                print(f"  {name:30} median {row['median'] / 1e6:.3f} Mpps "
                      f"[{row['min'] / 1e6:.3f}-{row['max'] / 1e6:.3f}] frames>= {row['frames']}",
                      flush=True)
                rows.append(row)
            return rows
        finally:
            ka.stop()


def rate_table(title, rows, note):
    base = next((r["median"] for r in rows if r["tool"] == "masscan"), rows[0]["median"])
    lines = [f"### {title}", "", note, "",
             "| sender | frames/s median | min–max | vs masscan | frames counted (fewest) |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tool']} | {r['median'] / 1e6:.3f} M | {r['min'] / 1e6:.3f}–"
                     f"{r['max'] / 1e6:.3f} M | {r['median'] / base:.2f}× | {r['frames']} |")
    lines.append("")
    lines.append("Commands (in the scanner namespace): " +
                 "; ".join(f"`{r['cmd']}`" for r in rows))
    lines.append("")
    return "\n".join(lines)


def parse_hosts(out):
    """Hosts with port 80 open, from `-oL`/list lines, nmap -oG, or zmap's one address a line."""
    hosts = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[0] == "open" and f[1] == "tcp":
            hosts.add(f[3])
        elif line.startswith("Host:") and "80/open/tcp" in line:
            hosts.add(f[1])
        elif re.fullmatch(r"\d+\.\d+\.\d+\.\d+", line.strip()):
            hosts.add(line.strip())
    return hosts


def bench_full_port():
    """All 65535 ports of one lab host (10.201.0.3, 34 open) from the scanner namespace."""
    with Lab():
        ka = Keepalive("tgt", "10.201.0.1")
        try:
            t0mac = ns_read("tgt", "/sys/class/net/t0/address")
            truth = BENCH_PORTS | {22, 80, 443, 8080}
            print(f"full-port: 10.201.0.3 -p- with {len(truth)} open ports", flush=True)
            args = ["10.201.0.3", "-p-", "--format", "list", "--no-progress"]
            if os.path.exists(SYNSCAN_BASE):
                # Alternating runs of the two builds, so that drift falls on both alike.
                pair = [measure(n, ns("scan") + [exe] + args, parse_list, truth, runs=1)
                        for _ in range(RUNS)
                        for n, exe in (("synscan", SYNSCAN),
                                       (f"synscan before ({BASE_REV})", SYNSCAN_BASE))]
                rows = [merge([r for r in pair if r["tool"] == n])
                        for n in ("synscan", f"synscan before ({BASE_REV})")]
            else:
                rows = [measure("synscan", ns("scan") + [SYNSCAN] + args, parse_list, truth)]
            rows.append(measure("nmap", ns("scan") + ["nmap", "-sS", "-p-", "-T4", "-n", "-Pn",
                                                      "10.201.0.3", "-oG", "-"],
                                parse_nmap_grepable, truth))
            rows.append(measure("masscan", ns("scan") + masscan(
                "10.201.0.3", "1-65535", "s0", "10.201.0.1", t0mac,
                "--rate", "1000000", "--wait", "1", "-oL", "-"), parse_list, truth))
            return rows
        finally:
            ka.stop()


def bench_loss():
    """All ports of 10.201.0.3 with random loss each way on the target's link (iptables
    statistic in the target namespace: this kernel has no netem)."""
    runs = int(os.environ.get("LOSS_RUNS", "3"))
    with Lab():
        ka = Keepalive("tgt", "10.201.0.1")
        try:
            t0mac = ns_read("tgt", "/sys/class/net/t0/address")
            truth = BENCH_PORTS | {22, 80, 443, 8080}
            rows = []
            for loss, retries in [("0.05", None), ("0.20", "3")]:
                for chain in ["INPUT", "OUTPUT"]:
                    subprocess.run(ns("tgt") + ["iptables", "-F", chain], check=True)
                    subprocess.run(ns("tgt") + ["iptables", "-A", chain, "-m", "statistic",
                                                "--mode", "random", "--probability", loss,
                                                "-j", "DROP"], check=True)
                pct = int(float(loss) * 100)
                print(f"loss {pct}% each way: 10.201.0.3 -p- with {len(truth)} open", flush=True)
                syn = [SYNSCAN, "10.201.0.3", "-p-", "--format", "list", "--no-progress"]
                name = "synscan"
                if retries:
                    syn += ["--retries", retries]
                    name += f" --retries {retries}"
                rows.append(measure(f"{pct}% loss: {name}", ns("scan") + syn, parse_list,
                                    truth, runs))
                if pct == 5:
                    # One run: nmap takes minutes under loss.
                    rows.append(measure(f"{pct}% loss: nmap -T4 (1 run)", ns("scan") + [
                        "nmap", "-sS", "-p-", "-T4", "-n", "-Pn", "10.201.0.3", "-oG", "-"],
                        parse_nmap_grepable, truth, 1))
                rows.append(measure(f"{pct}% loss: masscan --retries 2", ns("scan") + masscan(
                    "10.201.0.3", "1-65535", "s0", "10.201.0.1", t0mac, "--rate", "1000000",
                    "--wait", "1", "--retries", "2", "-oL", "-"), parse_list, truth, runs))
            return rows
        finally:
            ka.stop()


def bench_congestion():
    """Ports 1-20000 of 10.201.0.3 while the target takes at most 2000 SYNs a second
    (iptables limit, burst 50) and drops the rest: does the scanner slow down or lose ports?"""
    runs = int(os.environ.get("LOSS_RUNS", "3"))
    with Lab():
        ka = Keepalive("tgt", "10.201.0.1")
        try:
            t0mac = ns_read("tgt", "/sys/class/net/t0/address")
            truth = {p for p in BENCH_PORTS | {22, 80, 443, 8080} if p <= 20000}
            for rule in (["-m", "limit", "--limit", "2000/s", "--limit-burst", "50", "-j",
                          "ACCEPT"], ["-j", "DROP"]):
                subprocess.run(ns("tgt") + ["iptables", "-A", "INPUT", "-p", "tcp", "--syn"]
                               + rule, check=True)
            print(f"congestion: 10.201.0.3 -p 1-20000 with {len(truth)} open, 2000 SYN/s limit",
                  flush=True)
            rows = [measure("synscan (defaults)", ns("scan") + [
                SYNSCAN, "10.201.0.3", "-p", "1-20000", "--format", "list", "--no-progress"],
                parse_list, truth, runs)]
            rows.append(measure("nmap -sS -T4", ns("scan") + [
                "nmap", "-sS", "-p1-20000", "-T4", "-n", "-Pn", "10.201.0.3", "-oG", "-"],
                parse_nmap_grepable, truth, runs))
            rows.append(measure("masscan --rate 1000000 --retries 2", ns("scan") + masscan(
                "10.201.0.3", "1-20000", "s0", "10.201.0.1", t0mac, "--rate", "1000000",
                "--wait", "1", "--retries", "2", "-oL", "-"), parse_list, truth, runs))
            return rows
        finally:
            ka.stop()


def bench_sweep():
    """An any-IP /17 (32768 addresses, all answering) x port 80."""
    with Lab():
        ka = Keepalive("any", "10.201.3.1")
        try:
            a0mac = ns_read("any", "/sys/class/net/a0/address")
            import ipaddress
            truth = {str(ip) for ip in ipaddress.ip_network("10.210.0.0/17")}
            print(f"sweep: 10.210.0.0/17 x 80, {len(truth)} hosts answering", flush=True)
            rows = [measure("synscan", ns("scan") + [SYNSCAN, "10.210.0.0/17", "-p", "80",
                                                     "--include-broadcast", "--format", "list",
                                                     "--no-progress"], parse_hosts, truth)]
            rows.append(measure("nmap", ns("scan") + ["nmap", "-sS", "-p80", "-n", "-Pn",
                                                      "--min-rate", "100000", "10.210.0.0/17",
                                                      "-oG", "-"], parse_hosts, truth))
            if shutil.which("zmap"):
                rows.append(measure("zmap", ns("scan") + [
                    "zmap", "10.210.0.0/17", "-p", "80", "-r", "1000000", "-G", a0mac, "-i",
                    "s2", "-S", "10.201.3.1", "-b", "/dev/null", "-o", "-", "-q"],
                    parse_hosts, truth))
            rows.append(measure("masscan", ns("scan") + masscan(
                "10.210.0.0/17", "80", "s2", "10.201.3.1", a0mac, "--rate", "1000000",
                "-oL", "-"), parse_hosts, truth))
            return rows
        finally:
            ka.stop()


class Keepalive6(Keepalive):
    """[`Keepalive`] over IPv6."""

    def __init__(self, src, dst, secs=1500):
        code = ("import socket,time\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n"
                f"end=time.time()+{secs}\n"
                f"while time.time()<end:\n"
                f"  try: s.sendto(b'k',('{dst}',9))\n"
                "  except OSError: pass\n"
                "  time.sleep(0.2)\n")
        self.proc = subprocess.Popen(ns(src) + ["python3", "-c", code])


def masscan6(target, ports, iface, src, router_mac, *extra):
    """masscan over IPv6: 1.3.2 scans IPv6 here only with `--range ADDR/LEN` and the next
    hop given with `--router-mac-ipv6`."""
    return ["masscan", "--range", target, "-p" + ports, "--router-mac-ipv6", router_mac,
            "--adapter", iface, "--adapter-ip", src, "--adapter-mac",
            ns_read("scan", f"/sys/class/net/{iface}/address"), *extra]


def bench_full_port6():
    """All 65535 ports of one lab IPv6 host (fd93::3, 34 open) from the scanner namespace."""
    with Lab():
        ka = Keepalive6("tgt", "fd93::1")
        try:
            t0mac = ns_read("tgt", "/sys/class/net/t0/address")
            truth = BENCH_PORTS | {22, 80, 443, 8080}
            print(f"full-port6: fd93::3 -p- with {len(truth)} open ports", flush=True)
            rows = [measure("synscan", ns("scan") + [SYNSCAN, "fd93::3", "-p-", "--format",
                                                     "list", "--no-progress"], parse_list, truth)]
            rows.append(measure("nmap -6", ns("scan") + ["nmap", "-6", "-sS", "-p-", "-T4", "-n",
                                                         "-Pn", "fd93::3", "-oG", "-"],
                                parse_nmap_grepable, truth))
            rows.append(measure("masscan", ns("scan") + masscan6(
                "fd93::3/128", "1-65535", "s0", "fd93::1", t0mac,
                "--rate", "1000000", "--wait", "1", "-oL", "-"), parse_list, truth))
            return rows
        finally:
            ka.stop()


def bench_sweep6():
    """An any-IP IPv6 /112 (65536 addresses, all answering) x port 80."""
    with Lab():
        ka = Keepalive6("any", "fd93:3::1")
        try:
            a0mac = ns_read("any", "/sys/class/net/a0/address")
            import ipaddress
            truth = {str(ip) for ip in ipaddress.ip_network("fd93:4::/112")}
            print(f"sweep6: fd93:4::/112 x 80, {len(truth)} hosts answering", flush=True)
            rows = [measure("synscan", ns("scan") + [SYNSCAN, "fd93:4::/112", "-p", "80",
                                                     "--format", "list", "--no-progress"],
                            parse_hosts, truth)]
            rows.append(measure("nmap -6", ns("scan") + [
                "nmap", "-6", "-sS", "-p80", "-n", "-Pn", "--min-rate", "100000",
                "fd93:4::/112", "-oG", "-"], parse_hosts, truth))
            rows.append(measure("masscan", ns("scan") + masscan6(
                "fd93:4::/112", "80", "s2", "fd93:3::1", a0mac, "--rate", "1000000",
                "-oL", "-"), parse_hosts, truth))
            return rows
        finally:
            ka.stop()


def bench_wire():
    """examples/wire_compare: our wire views beside etherparse and pnet_packet."""
    exe = os.path.join(ROOT, "target", "release", "examples", "wire_compare")
    out = subprocess.run([exe], stdout=subprocess.PIPE, text=True, check=True).stdout
    print(out, flush=True)
    return [{"text": out}]


def wire_table(title, rows, note):
    return "\n".join([f"### {title}", "", note, "", "```", rows[0]["text"].rstrip(), "```",
                      "", "Command: `target/release/examples/wire_compare`", ""])


def timed_sampled(cmd, every=0.25, timeout=TIMEOUT):
    """[`timed`], also sampling the command's VmRSS every `every` seconds: returns (wall, peak
    RSS KiB, stdout, [(seconds, VmRSS KiB)]). The sampled process is GNU time's child: `ip
    netns exec` execs the tool in place, so that is the tool itself."""
    with tempfile.NamedTemporaryFile("r") as tf, tempfile.TemporaryFile("w+") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", tf.name] + cmd, stdout=out,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        samples = []
        child = None
        next_sample = t0
        while p.poll() is None and time.monotonic() - t0 < timeout:
            # Short sleeps, so the exit is seen within 10 ms; a sample every `every`.
            if time.monotonic() < next_sample:
                time.sleep(0.01)
                continue
            next_sample += every
            if child is None:
                try:
                    kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
                    child = kids[0] if kids else None
                except OSError:
                    pass
            if child is not None:
                try:
                    for line in open(f"/proc/{child}/status"):
                        if line.startswith("VmRSS:"):
                            samples.append((time.monotonic() - t0, int(line.split()[1])))
                except OSError:
                    pass
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return None, 0, "", samples
        LAST_STDERR[0] = p.stderr.read()
        wall = time.monotonic() - t0
        rss = 0
        for line in open(tf.name):
            if line.strip().isdigit():
                rss = int(line.strip())
        out.seek(0)
        return wall, rss, out.read(), samples


def parse_pairs(out):
    """(address, port) of every open port in list output (`open tcp PORT IP TS`) or zmap's
    one address a line (port 80)."""
    pairs = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[0] == "open" and f[1] == "tcp":
            pairs.add((f[3], int(f[2])))
        elif re.fullmatch(r"\d+\.\d+\.\d+\.\d+", line.strip()):
            pairs.add((line.strip(), 80))
    return pairs


def bench_flat():
    """Sweeps of an any-IP /12 (10.224.0.0/12: every address answers, port 80 open) at four
    sizes, synscan (ndjson-like list and -oX) beside zmap and masscan, with peak RSS and
    synscan's VmRSS sampled through the run."""
    import ipaddress
    runs = int(os.environ.get("FLAT_RUNS", "3"))
    sizes = [("10.224.0.0/16", "80"), ("10.224.0.0/14", "80"), ("10.224.0.0/12", "80"),
             ("10.224.0.0/20", "1-100")]
    rows, series = [], []
    with Lab():
        ka = Keepalive("any", "10.201.3.1")
        try:
            a0mac = ns_read("any", "/sys/class/net/a0/address")
            with tempfile.TemporaryDirectory() as tmp:
                xml = os.path.join(tmp, "out.xml")
                for net, ports in sizes:
                    truth = {(str(ip), 80) for ip in ipaddress.ip_network(net)}
                    work = f"{net} × {'port 80' if ports == '80' else 'ports ' + ports}"
                    print(f"flat: {work}, {len(truth)} open", flush=True)
                    base = ["--include-broadcast", "--no-progress", "--seed", "1"]
                    tools = [
                        ("synscan (list)", ns("scan") + [SYNSCAN, net, "-p", ports, "--format",
                                                         "list"] + base),
                        ("synscan (-oX)", ns("scan") + [SYNSCAN, net, "-p", ports, "-oX", xml,
                                                        "--format", "list"] + base),
                    ]
                    before = os.environ.get("SYNSCAN_FLAT_BASE", "")
                    if os.path.exists(before):
                        tools.append((f"synscan before ({os.environ.get('FLAT_REV', '')}, list)",
                                      ns("scan") + [before, net, "-p", ports, "--format",
                                                    "list"] + base))
                    if ports == "80" and shutil.which("zmap"):
                        tools.append(("zmap", ns("scan") + [
                            "zmap", net, "-p", "80", "-r", "1000000", "-G", a0mac, "-i", "s2",
                            "-S", "10.201.3.1", "-b", "/dev/null", "-o", "-", "-q"]))
                    tools.append(("masscan", ns("scan") + masscan(
                        net, ports, "s2", "10.201.3.1", a0mac, "--rate", "1000000", "-oL",
                        "-")))
                    for name, cmd in tools:
                        walls, rsss, found, missed, false = [], [], [], [], []
                        for k in range(runs):
                            wall, rss, out, samples = timed_sampled(cmd)
                            if wall is None:
                                wall, out = TIMEOUT, ""
                            got = parse_pairs(out)
                            walls.append(wall)
                            rsss.append(rss)
                            found.append(len(got & truth))
                            missed.append(len(truth - got))
                            false.append(len(got - truth))
                            if k == 0 and name.startswith("synscan") and net.endswith("/12"):
                                series.append((name, samples))
                        row = {"work": work, "tool": name, "median": statistics.median(walls),
                               "min": min(walls), "max": max(walls), "rss": max(rsss) / 1024.0,
                               "found": min(found), "missed": max(missed), "false": max(false),
                               "truth": len(truth), "cmd": " ".join(cmd)}
                        print(f"  {name:15} median {row['median']:.3f}s  {row['rss']:.1f} MiB  "
                              f"found {row['found']}/{len(truth)} missed<= {row['missed']} "
                              f"false<= {row['false']}", flush=True)
                        rows.append(row)
        finally:
            ka.stop()
    return rows, series


def flat_table(title, result, note):
    rows, series = result
    lines = [f"### {title}", "", note, "",
             "| work | tool | wall median | min–max | peak RSS (max) | found | missed | false |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['work']} | {r['tool']} | {r['median']:.3f} s | "
                     f"{r['min']:.3f}–{r['max']:.3f} s | {r['rss']:.1f} MiB | "
                     f"{r['found']}/{r['truth']} | {r['missed']} | {r['false']} |")
    for name, samples in series:
        lines.append("")
        lines.append(f"{name}, /12 sweep: VmRSS sampled every 0.25 s (seconds → MiB): " +
                     ", ".join(f"{t:.2f} → {kib / 1024:.1f}" for t, kib in samples) + ".")
    lines.append("")
    lines.append("Commands (per size): " + "; ".join(
        f"`{r['cmd']}`" for r in rows if r["work"].startswith("10.224.0.0/12")))
    lines.append("")
    return "\n".join(lines)


def bench_memory():
    """Peak RSS of --dry-run over 10.0.0.0/8 x 1 port and a /24 x all ports."""
    rows = []
    for name, args in [("10.0.0.0/8 x 1 port", ["10.0.0.0/8", "-p", "80"]),
                       ("10.0.0.0/24 x 65535 ports", ["10.0.0.0/24", "-p-"])]:
        cmd = [SYNSCAN, "--dry-run", "--seed", "1", "--include-broadcast"] + args
        walls, rsss, lines = [], [], 0
        for _ in range(3):
            with tempfile.TemporaryFile() as out:
                with tempfile.NamedTemporaryFile("r") as tf:
                    t0 = time.monotonic()
                    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name] + cmd,
                                   stdout=out, stderr=subprocess.DEVNULL, check=True)
                    walls.append(time.monotonic() - t0)
                    rsss.append(int(open(tf.name).read().split()[-1]))
                out.seek(0)
                lines = sum(1 for _ in out)
        row = {"tool": name, "median": statistics.median(walls), "min": min(walls),
               "max": max(walls), "rss": max(rsss) / 1024.0, "found": lines, "truth": lines,
               "missed": 0, "false": 0, "cmd": " ".join(cmd), "drops": None}
        print(f"  {name:28} {row['rss']:.1f} MiB, {lines} frames listed, "
              f"{row['median']:.2f} s", flush=True)
        rows.append(row)
    return rows


def memory_table(title, rows, note):
    lines = [f"### {title}", "", note, "",
             "| work | peak RSS (max of 3) | frames listed | wall median |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tool']} | {r['rss']:.1f} MiB | {r['found']} | {r['median']:.2f} s |")
    lines.append("")
    lines.append("Commands: " + "; ".join(f"`{r['cmd']} > FILE`" for r in rows))
    lines.append("")
    return "\n".join(lines)


def table(title, rows, note=""):
    base = rows[0]["median"]
    lines = [f"### {title}", "", note, "",
             "| tool | wall median | min–max | vs synscan | peak RSS | found | missed | false |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("timeouts"):
            lines.append(f"| {r['tool']} | > {TIMEOUT} s ({r['timeouts']} of {r['runs']} runs "
                         f"stopped at {TIMEOUT} s) | | > {TIMEOUT / base:.0f}× | | "
                         f"{r['found']}/{r['truth']} | {r['missed']} | {r['false']} |")
            continue
        lines.append(f"| {r['tool']} | {r['median']:.3f} s | {r['min']:.3f}–{r['max']:.3f} s | "
                     f"{r['median'] / base:.2f}× | {r['rss']:.1f} MiB | {r['found']}/{r['truth']} | "
                     f"{r['missed']} | {r['false']} |")
    drops = [f"{r['tool']} {r['drops']}" for r in rows if r.get("drops") is not None]
    if drops:
        lines.append("")
        lines.append("Frames the kernel dropped on synscan's receive socket (PACKET_STATISTICS, "
                     "most in any run): " + ", ".join(drops) + ".")
    lines.append("")
    lines.append("Commands: " + "; ".join(f"`{r['cmd']}`" for r in rows))
    lines.append("")
    return "\n".join(lines)


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, {time.strftime('%Y-%m-%d')}"


def write_section(key, text):
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    doc = open(DOC).read() if os.path.exists(DOC) else "# Benchmarks\n\nWritten by `scripts/bench.sh`.\n"
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    block = f"{start}\n{text}\n{end}"
    if start in doc:
        doc = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    open(DOC, "w").write(doc)


# The UDP bench's target: real daemons (dnsmasq, snmpd, chronyd), an echo server on 7 and
# "pong" responders that answer any datagram, plus ports nft drops and ports it rejects with
# admin-prohibited.
UDP_PONG = [7, 19, 37, 177, 520, 999]
UDP_TRUTH = set(UDP_PONG) | {53, 123, 161}
UDP_DROPPED = list(range(600, 610))


class UdpLab:
    """Scanner and target namespaces of the UDP bench (10.78.0.1 and .2 on a veth), the
    target's services, and its ICMP limits (`lifted`: none; else the kernel's defaults)."""

    def __init__(self, lifted):
        self.tag = "sb%du" % (os.getpid() % 100000)
        self.scan, self.tgt = self.tag + "s", self.tag + "t"
        self.lifted = lifted
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix="synscan-udp-bench-")

    def ex(self, ns, cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", ns] + cmd, check=True, **kw)

    def __enter__(self):
        for n in (self.scan, self.tgt):
            subprocess.run(["ip", "netns", "add", n], check=True)
            subprocess.run(["ip", "-n", n, "link", "set", "lo", "up"], check=True)
        a, b = self.tag + "a", self.tag + "b"
        subprocess.run(["ip", "link", "add", a, "netns", self.scan, "type", "veth", "peer",
                        "name", b, "netns", self.tgt], check=True)
        subprocess.run(["ip", "-n", self.scan, "addr", "add", "10.78.0.1/24", "dev", a], check=True)
        subprocess.run(["ip", "-n", self.tgt, "addr", "add", "10.78.0.2/24", "dev", b], check=True)
        subprocess.run(["ip", "-n", self.scan, "link", "set", a, "up"], check=True)
        subprocess.run(["ip", "-n", self.tgt, "link", "set", b, "up"], check=True)
        self.iface = a
        limits = ({"net.ipv4.icmp_ratelimit": "0", "net.ipv4.icmp_msgs_per_sec": "100000",
                   "net.ipv4.icmp_msgs_burst": "100000"} if self.lifted else
                  {"net.ipv4.icmp_ratelimit": "1000", "net.ipv4.icmp_msgs_per_sec": "1000",
                   "net.ipv4.icmp_msgs_burst": "50"})
        for k, v in limits.items():
            self.ex(self.tgt, ["sysctl", "-qw", f"{k}={v}"])
        rules = ("table inet f {\n chain in {\n type filter hook input priority 0;\n"
                 f" udp dport 600-609 drop\n"
                 " udp dport 610 reject with icmp type admin-prohibited\n }\n}\n")
        self.ex(self.tgt, ["nft", "-f", "-"], input=rules, text=True)
        d = self.dir
        open(f"{d}/snmpd.conf", "w").write(f"rocommunity public\npersistentDir {d}/snmp\n")
        open(f"{d}/chrony.conf", "w").write(
            f"port 123\nallow all\nlocal stratum 8\ncmdport 0\npidfile {d}/chrony.pid\n"
            f"driftfile {d}/chrony.drift\n")
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run = lambda cmd: self.procs.append(
            subprocess.Popen(["ip", "netns", "exec", self.tgt] + cmd, **quiet))
        run(["dnsmasq", "--no-daemon", "--port", "53", "--listen-address", "10.78.0.2",
             "--bind-interfaces", "--no-resolv", "--no-hosts", f"--pid-file={d}/dnsmasq.pid"])
        run(["snmpd", "-f", "-C", "-c", f"{d}/snmpd.conf", "-p", f"{d}/snmpd.pid", "-Lf",
             "/dev/null", "udp:10.78.0.2:161"])
        run(["chronyd", "-d", "-x", "-u", "root", "-f", f"{d}/chrony.conf"])
        pong = ("import select,socket,time\nss=[]\n"
                f"for p in {UDP_PONG}:\n"
                "  s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('10.78.0.2',p)); ss.append(s)\n"
                "end=time.time()+3600\n"
                "while time.time()<end:\n"
                "  r,_,_=select.select(ss,[],[],1)\n"
                "  for s in r:\n"
                "    d,a=s.recvfrom(4096); s.sendto(d if s.getsockname()[1]==7 else b'pong',a)\n")
        run(["python3", "-c", pong])
        for _ in range(100):
            out = subprocess.run(["ip", "netns", "exec", self.tgt, "ss", "-Hlun"],
                                 stdout=subprocess.PIPE, text=True).stdout
            if all(f":{p} " in out for p in (53, 123, 161, 999)):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("UDP bench services did not start")
        self.tmac = open_ns_file(self.tgt, f"/sys/class/net/{b}/address")
        self.smac = open_ns_file(self.scan, f"/sys/class/net/{a}/address")
        # masscan 1.3.2 blocks in poll() on a silent interface after its wait.
        ka = ("import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
              "end=time.time()+3600\nwhile time.time()<end:\n"
              "  s.sendto(b'k',('10.78.0.1',9)); time.sleep(0.2)\n")
        run(["python3", "-c", ka])
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()
        time.sleep(0.2)
        for n in (self.scan, self.tgt):
            subprocess.run(["ip", "netns", "del", n])
        shutil.rmtree(self.dir, ignore_errors=True)

    def cmd(self, c):
        return ["ip", "netns", "exec", self.scan] + c

    def masscan(self, ports, *extra):
        return self.cmd(["masscan", "10.78.0.2", "-p" + ports, "--router-mac", self.tmac,
                         "--adapter", self.iface, "--adapter-ip", "10.78.0.1",
                         "--adapter-mac", self.smac, "--rate", "100000", "--wait", "2",
                         "-oL", "-", *extra])


def open_ns_file(ns, path):
    return subprocess.run(["ip", "netns", "exec", ns, "cat", path], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.strip()


def udp_parse_ndjson(out):
    """synscan ndjson: (open UDP ports, closed count)."""
    import json
    opened, closed = set(), 0
    for line in out.splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if v.get("proto") != "udp":
            continue
        if v.get("state") == "open":
            opened.add(v["port"])
        elif v.get("state") == "closed":
            closed += 1
    return opened, closed


def udp_parse_nmap_xml(out):
    opened = {int(p) for p in re.findall(r'protocol="udp" portid="(\d+)"><state state="open"', out)}
    closed = len(re.findall(r'protocol="udp" portid="\d+"><state state="closed"', out))
    closed += sum(int(n) for n in re.findall(r'<extraports state="closed" count="(\d+)"', out))
    return opened, closed


def udp_parse_masscan(out):
    opened = {int(l.split()[2]) for l in out.splitlines() if l.startswith("open udp ")}
    return opened, None


def udp_measure(name, cmd, parse, runs, timeout):
    walls, founds, closeds, timeouts = [], [], [], 0
    for _ in range(runs):
        wall, rss, out = timed(cmd, timeout=timeout)
        if wall is None:
            timeouts += 1
            wall = timeout
        opened, closed = parse(out)
        walls.append(wall)
        founds.append(opened)
        closeds.append(closed)
    row = {
        "tool": name, "median": statistics.median(walls), "min": min(walls), "max": max(walls),
        "found": min(len(f & UDP_TRUTH) for f in founds),
        "missed": max(len(UDP_TRUTH - f) for f in founds),
        "false": max(len(f - UDP_TRUTH) for f in founds),
        "closed": None if closeds[0] is None else min(closeds),
        "truth": len(UDP_TRUTH), "cmd": " ".join(cmd[4:]), "runs": runs, "timeouts": timeouts,
        "timeout": timeout,
    }
    print(f"  {name:24} median {row['median']:.2f}s found {row['found']}/{row['truth']} "
          f"missed<= {row['missed']} false<= {row['false']} closed {row['closed']}", flush=True)
    return row


def nmap_udp_top(n):
    path = "/usr/share/nmap/nmap-services"
    freq = {}
    for line in open(path):
        f = line.split("#")[0].split()
        if len(f) >= 3 and f[1].endswith("/udp"):
            p = int(f[1].split("/")[0])
            freq[p] = max(freq.get(p, 0.0), float(f[2]))
    ranked = sorted((p for p in freq if freq[p] > 0), key=lambda p: (-freq[p], p))
    return ranked[:n]


def bench_udp():
    """-sU -p 1-1000 of one lab host with its ICMP limits lifted, then with the kernel's
    default limits, then --top-ports 100; synscan (default and --udp-patient), nmap -sU -T4
    and masscan's UDP, in one run."""
    sections = []
    nmap_runs = int(os.environ.get("UDP_NMAP_RUNS", "1"))
    for lifted in (True, False):
        with UdpLab(lifted) as lab:
            what = "limits lifted" if lifted else "kernel's default ICMP limits"
            print(f"udp: -p 1-1000, {what}", flush=True)
            ours = ["-sU", "-p", "1-1000", "10.78.0.2", "--format", "ndjson", "--states", "all",
                    "--no-progress"]
            rows = [udp_measure("synscan", lab.cmd([SYNSCAN] + ours), udp_parse_ndjson, RUNS,
                                TIMEOUT)]
            if not lifted:
                rows.append(udp_measure("synscan --udp-patient",
                                        lab.cmd([SYNSCAN] + ours + ["--udp-patient"]),
                                        udp_parse_ndjson, 1, 3000))
            rows.append(udp_measure("nmap -sU -T4", lab.cmd(
                ["nmap", "-sU", "-T4", "-n", "-Pn", "-p", "1-1000", "10.78.0.2", "-oX", "-"]),
                udp_parse_nmap_xml, nmap_runs if lifted else 1, 3000))
            rows.append(udp_measure("masscan", lab.masscan("U:1-1000"), udp_parse_masscan, RUNS,
                                    TIMEOUT))
            sections.append((f"UDP, 1 host × ports 1-1000, {what}", rows))
            if lifted:
                top = nmap_udp_top(100)
                print("udp: --top-ports 100, limits lifted", flush=True)
                rows = [udp_measure("synscan", lab.cmd(
                    [SYNSCAN, "-sU", "--top-ports", "100", "10.78.0.2", "--format", "ndjson",
                     "--states", "all", "--no-progress"]), udp_parse_ndjson, RUNS, TIMEOUT)]
                rows.append(udp_measure("nmap -sU -T4", lab.cmd(
                    ["nmap", "-sU", "-T4", "-n", "-Pn", "--top-ports", "100", "10.78.0.2", "-oX",
                     "-"]), udp_parse_nmap_xml, nmap_runs, 3000))
                rows.append(udp_measure("masscan", lab.masscan(
                    "U:" + ",".join(map(str, top))), udp_parse_masscan, RUNS, TIMEOUT))
                sections.append(("UDP, 1 host × nmap's top 100 UDP ports, limits lifted", rows))
    return sections


def udp_table(title, sections, note):
    out = [f"### {title}", "", note, "",
           "Truth: " + ", ".join(map(str, sorted(UDP_TRUTH))) + " answer (dnsmasq 53, chronyd "
           "123, snmpd 161, an echo server on 7; the rest answer any datagram with \"pong\"); "
           "600-609 are dropped by nft, 610 is "
           "rejected with admin-prohibited, everything else is closed. \"closed\" is how many "
           "closed ports a tool classified (masscan reports open ports only). In the top-100 "
           "run only the truth ports among those 100 can be found.", ""]
    for sub, rows in sections:
        base = rows[0]["median"]
        out += [f"#### {sub}", "",
                "| tool | wall median | min–max | vs synscan | found | missed | false | closed | runs |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            wall = (f"> {r['timeout']} s" if r["timeouts"] else f"{r['median']:.2f} s")
            truth = len(UDP_TRUTH)
            out.append(f"| {r['tool']} | {wall} | {r['min']:.2f}–{r['max']:.2f} s | "
                       f"{r['median'] / base:.1f}× | {r['found']}/{truth} | {r['missed']} | "
                       f"{r['false']} | {'—' if r['closed'] is None else r['closed']} | "
                       f"{r['runs']} |")
        out += ["", "Commands: " + "; ".join(f"`{r['cmd']}`" for r in rows), ""]
    return "\n".join(out)


def parse_up(out):
    """Hosts found up: synscan's list host records (`up host 0 IP TS`), nmap -oG's
    `Status: Up`, masscan --ping's `open icmp 0 IP TS`, or zmap's one address a line."""
    hosts = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[0] == "up" and f[1] == "host":
            hosts.add(f[3])
        elif len(f) >= 4 and f[0] == "open" and f[1] == "icmp":
            hosts.add(f[3])
        elif line.startswith("Host:") and "Status: Up" in line:
            hosts.add(f[1])
        elif re.fullmatch(r"\d+\.\d+\.\d+\.\d+", line.strip()):
            hosts.add(line.strip())
    return hosts


def parse_open_pairs(out):
    """(address, port) of open ports in list output or nmap -oG."""
    pairs = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[0] == "open" and f[1] == "tcp":
            pairs.add((f[3], int(f[2])))
        elif line.startswith("Host:") and "Ports:" in line:
            for m in re.finditer(r"(\d+)/open/tcp", line):
                pairs.add((f[1], int(m.group(1))))
    return pairs


def bench_discovery():
    """-sn of an any-IP /16 of which 256 addresses answer (nft drops the rest), beside nmap
    -sn, zmap's icmp_echoscan and masscan --ping; then a /24 with 3 live hosts x the top 1000
    ports, with and without discovery, beside nmap's default scan."""
    sections = []
    nmap_runs = int(os.environ.get("DISC_NMAP_RUNS", "1"))
    with Lab():
        subprocess.run(ns("any") + ["ip", "route", "add", "local", "10.220.0.0/16", "dev", "lo"],
                       check=True)
        subprocess.run(ns("any") + ["ip", "route", "add", "local", "10.221.0.0/24", "dev", "lo"],
                       check=True)
        for net in ("10.220.0.0/16", "10.221.0.0/24"):
            subprocess.run(ns("scan") + ["ip", "route", "add", net, "via", "10.201.3.2"],
                           check=True)
        rules = ("table ip disc {\n chain in {\n type filter hook input priority 0;\n"
                 " ip daddr 10.220.0.0/16 ip daddr & 0.0.0.255 != 0.0.0.7 drop\n"
                 " ip daddr 10.221.0.0/24 ip daddr != { 10.221.0.7, 10.221.0.77, 10.221.0.177 }"
                 " drop\n }\n}\n")
        subprocess.run(ns("any") + ["nft", "-f", "-"], input=rules, text=True, check=True)
        ka = Keepalive("any", "10.201.3.1")
        try:
            a0mac = ns_read("any", "/sys/class/net/a0/address")
            truth = {f"10.220.{x}.7" for x in range(256)}
            print(f"discovery: -sn 10.220.0.0/16, {len(truth)} hosts up", flush=True)
            rows = [measure("synscan -sn", ns("scan") + [
                SYNSCAN, "-sn", "10.220.0.0/16", "--format", "list", "--no-progress"],
                parse_up, truth)]
            rows.append(measure("synscan -sn -PE", ns("scan") + [
                SYNSCAN, "-sn", "-PE", "10.220.0.0/16", "--format", "list", "--no-progress"],
                parse_up, truth))
            rows.append(measure("nmap -sn -T4", ns("scan") + [
                "nmap", "-sn", "-n", "-T4", "10.220.0.0/16", "-oG", "-"], parse_up, truth,
                runs=nmap_runs))
            rows.append(measure("nmap -sn -T5 --min-rate 100000", ns("scan") + [
                "nmap", "-sn", "-n", "-T5", "--min-rate", "100000", "--min-hostgroup", "4096",
                "10.220.0.0/16", "-oG", "-"], parse_up, truth, runs=nmap_runs))
            if shutil.which("zmap"):
                rows.append(measure("zmap icmp_echoscan", ns("scan") + [
                    "zmap", "-M", "icmp_echoscan", "10.220.0.0/16", "-r", "1000000", "-G", a0mac,
                    "-i", "s2", "-S", "10.201.3.1", "-b", "/dev/null", "-o", "-", "-q"],
                    parse_up, truth))
            ping = [x for x in masscan("10.220.0.0/16", "0", "s2", "10.201.3.1", a0mac)
                    if x != "-p0"]
            rows.append(measure("masscan --ping", ns("scan") + ping + [
                "--ping", "--rate", "1000000", "-oL", "-"], parse_up, truth))
            sections.append(("Host discovery (-sn) of an any-IP /16, 256 hosts up", rows))
            live = ["10.221.0.7", "10.221.0.77", "10.221.0.177"]
            pairs = {(h, p) for h in live for p in (80, 443)}
            print("discovery: 10.221.0.0/24 x top 1000, 3 hosts up", flush=True)
            rows = [measure("synscan", ns("scan") + [
                SYNSCAN, "10.221.0.0/24", "--format", "list", "--no-progress"],
                parse_open_pairs, pairs)]
            rows.append(measure("synscan -Pn", ns("scan") + [
                SYNSCAN, "-Pn", "10.221.0.0/24", "--format", "list", "--no-progress"],
                parse_open_pairs, pairs))
            rows.append(measure("nmap -sS -T4", ns("scan") + [
                "nmap", "-sS", "-n", "-T4", "10.221.0.0/24", "-oG", "-"], parse_open_pairs,
                pairs, runs=nmap_runs))
            rows.append(measure("nmap -sS", ns("scan") + [
                "nmap", "-sS", "-n", "10.221.0.0/24", "-oG", "-"], parse_open_pairs,
                pairs, runs=nmap_runs))
            sections.append(("A /24 with 3 live hosts × the top 1000 ports, open pairs found",
                             rows))
            return sections
        finally:
            ka.stop()


def discovery_table(title, sections, note):
    return "\n".join(table(t, rows, note) for t, rows in sections)


# The banner bench's target: real servers from Debian packages, and what each port is.
BANNER_TRUTH = {21: "ftp", 22: "ssh", 25: "smtp", 80: "http", 443: "ssl/http", 2222: "ssh",
                4433: "ssl", 9443: "ssl/http", 9999: "http"}


class BannerLab:
    """A scanner and a target namespace over a veth pair (10.63.0.1 and 10.63.0.2) with sshd
    (22, 2222), nginx (80 and 9999 HTTP, 443 and 9443 HTTPS), vsftpd (21), aiosmtpd with
    STARTTLS (25) and openssl s_server (4433); removed on exit with its processes."""

    def __enter__(self):
        self.scan, self.tgt = LAB + "bc", LAB + "bt"
        self.dir = tempfile.mkdtemp(prefix="synscan-bench-banners-")
        self.procs = []
        for n in (self.scan, self.tgt):
            subprocess.run(["ip", "netns", "add", n], check=True)
            subprocess.run(["ip", "-n", n, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "link", "add", "bbc0", "netns", self.scan, "type", "veth", "peer",
                        "name", "bbt0", "netns", self.tgt], check=True)
        for n, i, a in ((self.scan, "bbc0", "10.63.0.1/24"), (self.tgt, "bbt0", "10.63.0.2/24")):
            subprocess.run(["ip", "-n", n, "addr", "add", a, "dev", i], check=True)
            subprocess.run(["ip", "-n", n, "link", "set", i, "up"], check=True)
        d = self.dir
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=lab.test", "-keyout", f"{d}/key.pem", "-out",
                        f"{d}/cert.pem"], check=True, capture_output=True)
        subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", f"{d}/hostkey"],
                       check=True)
        os.makedirs("/run/sshd", exist_ok=True)
        os.makedirs(f"{d}/empty")
        open(f"{d}/sshd_config", "w").write(
            f"ListenAddress 10.63.0.2:22\nListenAddress 10.63.0.2:2222\nHostKey {d}/hostkey\n"
            "PidFile none\nUsePAM no\n")
        t = d
        open(f"{d}/nginx.conf", "w").write(
            f"daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/nginx.err;\n"
            "events { worker_connections 256; }\nhttp {\n access_log off;\n"
            f" client_body_temp_path {t}; proxy_temp_path {t}; fastcgi_temp_path {t};"
            f" uwsgi_temp_path {t}; scgi_temp_path {t};\n"
            " server { listen 10.63.0.2:80; listen 10.63.0.2:9999; location / { default_type"
            " text/html; return 200 \"<title>Bench</title>\"; } }\n"
            f" server {{ listen 10.63.0.2:443 ssl; listen 10.63.0.2:9443 ssl; ssl_certificate"
            f" {d}/cert.pem; ssl_certificate_key {d}/key.pem; location / {{ return 200 ok; }} }}\n}}\n")
        open(f"{d}/vsftpd.conf", "w").write(
            "listen=YES\nlisten_address=10.63.0.2\nlisten_port=21\nbackground=NO\n"
            f"anonymous_enable=YES\nno_anon_password=YES\nanon_root={d}/empty\nlocal_enable=NO\n"
            f"secure_chroot_dir={d}/empty\nseccomp_sandbox=NO\n")
        open(f"{d}/smtp.py", "w").write(
            "import ssl, sys, time\nfrom aiosmtpd.controller import Controller\n"
            "from aiosmtpd.handlers import Sink\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
            f"ctx.load_cert_chain('{d}/cert.pem', '{d}/key.pem')\n"
            "c = Controller(Sink(), hostname='10.63.0.2', port=25, tls_context=ctx)\n"
            "c.start()\nprint('ready', flush=True)\ntime.sleep(3600)\n")
        tgt = ["ip", "netns", "exec", self.tgt]
        for cmd in (["/usr/sbin/sshd", "-D", "-f", f"{d}/sshd_config"],
                    ["nginx", "-e", f"{d}/nginx.err", "-c", f"{d}/nginx.conf"],
                    ["vsftpd", f"{d}/vsftpd.conf"],
                    ["openssl", "s_server", "-quiet", "-accept", "10.63.0.2:4433", "-cert",
                     f"{d}/cert.pem", "-key", f"{d}/key.pem"]):
            self.procs.append(subprocess.Popen(tgt + cmd, stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL))
        smtp = subprocess.Popen(tgt + ["/usr/bin/python3", f"{d}/smtp.py"], stdout=subprocess.PIPE,
                                text=True)
        self.procs.append(smtp)
        assert smtp.stdout.readline().strip() == "ready"
        for _ in range(100):
            out = subprocess.run(tgt + ["ss", "-Hltn"], capture_output=True, text=True).stdout
            if all(f"10.63.0.2:{p} " in out for p in BANNER_TRUTH):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("banner lab servers did not start")
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()
        for n in (self.scan, self.tgt):
            subprocess.run(["ip", "netns", "del", n])
        shutil.rmtree(self.dir, ignore_errors=True)


def banners_synscan(out):
    found = {}
    for line in out.splitlines():
        try:
            import json
            v = json.loads(line)
        except ValueError:
            continue
        s = v.get("service")
        if v.get("state") == "open" and s:
            name = s["name"] + ("?" if s.get("method") == "table" else "")
            found[v["port"]] = f"{s['tunnel']}/{name}" if s.get("tunnel") else name
    return found


def banners_nmap(out):
    found = {}
    for port in out.split("<port ")[1:]:
        m = re.search(r'portid="(\d+)"', port)
        s = re.search(r"<service ([^>]*)>", port)
        if not m or not s:
            continue
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', s.group(1)))
        name = attrs.get("name", "") + ("?" if attrs.get("method") == "table" else "")
        found[int(m.group(1))] = f"{attrs['tunnel']}/{name}" if attrs.get("tunnel") else name
    return found


def banners_masscan(out):
    """masscan -oL banner lines: `banner tcp PORT IP TS SERVICE TEXT`; a port's labels joined."""
    found = {}
    for line in out.splitlines():
        f = line.split(None, 6)
        if len(f) >= 6 and f[0] == "banner":
            found.setdefault(int(f[2]), set()).add(f[5])
    return {p: "+".join(sorted(v)) for p, v in found.items()}


def banner_score(found):
    """(identified, wrong): a port counts when its label is the truth's, or, for the bare TLS
    port, any label that says TLS; a `?` (a guess from the port table) is not identified."""
    ok = wrong = 0
    for port, want in BANNER_TRUTH.items():
        got = found.get(port)
        if got is None:
            continue
        labels = set(got.split("+"))
        if want in labels or (want == "ssl" and any(x.startswith("ssl") for x in labels)) or \
                (want == "ssl/http" and {"ssl", "http"} <= labels):
            ok += 1
        elif not got.endswith("?"):
            wrong += 1
    return ok, wrong


def bench_banners():
    """The lab host's 9 services (6 kinds) on all 65535 ports: synscan -p- --banners beside
    nmap -sV -p- -T4 and masscan -p1-65535 --banners."""
    runs = int(os.environ.get("BANNER_RUNS", "3"))
    nmap_runs = int(os.environ.get("BANNER_NMAP_RUNS", "1"))
    rows = []
    with BannerLab() as lab:
        scan = ["ip", "netns", "exec", lab.scan]
        mac = open_ns_file(lab.tgt, "/sys/class/net/bbt0/address")
        tools = [
            ("synscan -p- --banners", scan + [SYNSCAN, "10.63.0.2", "-p-", "--banners", "-oJ",
                                              "-", "--no-progress"], banners_synscan, runs),
            ("nmap -sV -p- -T4", scan + ["nmap", "-sV", "-p-", "-T4", "-Pn", "-n", "-oX", "-",
                                         "10.63.0.2"], banners_nmap, nmap_runs),
        ]
        if shutil.which("masscan"):
            # masscan's own TCP stack needs an address the kernel does not hold (else the
            # kernel resets its connections): 10.63.0.9, answered by masscan itself.
            tools.append(("masscan --banners", scan + [
                "masscan", "10.63.0.2", "-p1-65535", "--banners", "--rate", "100000",
                "--adapter", "bbc0", "--adapter-ip", "10.63.0.9", "--router-mac", mac,
                "--wait", "5", "-oL", "-"], banners_masscan, runs))
        ka = subprocess.Popen(["ip", "netns", "exec", lab.tgt, "python3", "-c",
                               "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                               "end=time.time()+1500\nwhile time.time()<end:\n"
                               "  s.sendto(b'k',('10.63.0.1',9)); time.sleep(0.2)\n"])
        try:
            for name, cmd, parse, n in tools:
                walls, found = [], None
                for _ in range(n):
                    wall, rss, out = timed(cmd)
                    walls.append(wall if wall is not None else TIMEOUT)
                    found = parse(out)
                ok, wrong = banner_score(found or {})
                row = {"tool": name, "median": statistics.median(walls), "min": min(walls),
                       "max": max(walls), "ok": ok, "wrong": wrong, "runs": n,
                       "labels": found or {}, "cmd": " ".join(cmd)}
                print(f"  {name:24} median {row['median']:.2f}s identified {ok}/"
                      f"{len(BANNER_TRUTH)} wrong {wrong} {row['labels']}", flush=True)
                rows.append(row)
        finally:
            ka.kill()
            ka.wait()
    return rows


def banners_table(title, rows, note):
    base = rows[0]["median"]
    lines = [f"### {title}", "", note, "",
             "| tool | runs | wall median | min–max | vs synscan | services identified | wrong |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tool']} | {r['runs']} | {r['median']:.2f} s | {r['min']:.2f}–"
                     f"{r['max']:.2f} s | {r['median'] / base:.1f}× | {r['ok']}/"
                     f"{len(BANNER_TRUTH)} | {r['wrong']} |")
    lines.append("")
    lines.append("What each tool named, by port (`?`: a guess from the port table): " + "; ".join(
        f"{r['tool']}: " + ", ".join(f"{p} {l}" for p, l in sorted(r["labels"].items()))
        for r in rows) + ".")
    lines.append("")
    lines.append("Commands: " + "; ".join(f"`{r['cmd']}`" for r in rows))
    lines.append("")
    return "\n".join(lines)


# Scale-out: one any-IP /18 × 50 ports scanned by one process and by 4 shard processes in 4
# scanner namespaces (a Kubernetes Indexed Job's pods on one machine), then merged; and
# merge alone on 10 million synthetic records.
SCALE_HOSTS = "10.68.0.0/18"
SCALE_PORTS = "7000-7049"
SCALE_OPEN = [7007, 7021, 7049]


class ScaleLab:
    """A target namespace answering on every address of SCALE_HOSTS (any-IP route, listeners
    on SCALE_OPEN), reached from `n` scanner namespaces, each by a veth of its own."""

    def __init__(self, n):
        self.n = n
        self.tgt = "bsot"
        self.scanners = [f"bsos{k}" for k in range(n)]

    def __enter__(self):
        sh = lambda *a: subprocess.run(a, check=True)
        sh("ip", "netns", "add", self.tgt)
        sh("ip", "-n", self.tgt, "link", "set", "lo", "up")
        for k, s in enumerate(self.scanners):
            sh("ip", "netns", "add", s)
            sh("ip", "-n", s, "link", "set", "lo", "up")
            sh("ip", "link", "add", f"bso{k}a", "netns", s, "type", "veth", "peer", "name",
               f"bso{k}b", "netns", self.tgt)
            sh("ip", "-n", s, "addr", "add", f"10.69.{k}.1/24", "dev", f"bso{k}a")
            sh("ip", "-n", self.tgt, "addr", "add", f"10.69.{k}.2/24", "dev", f"bso{k}b")
            sh("ip", "-n", s, "link", "set", f"bso{k}a", "up")
            sh("ip", "-n", self.tgt, "link", "set", f"bso{k}b", "up")
            sh("ip", "-n", s, "route", "add", SCALE_HOSTS, "via", f"10.69.{k}.2")
        sh("ip", "-n", self.tgt, "route", "add", "local", SCALE_HOSTS, "dev", "lo")
        ports = ",".join(map(str, SCALE_OPEN))
        self.listener = subprocess.Popen(
            ["ip", "netns", "exec", self.tgt, "python3", "-c",
             "import socket,time\nss=[]\nfor p in [" + ports + "]:\n"
             "  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
             "  s.bind(('0.0.0.0',p)); s.listen(4096); ss.append(s)\ntime.sleep(3000)\n"])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.listener.kill()
        self.listener.wait()
        for s in self.scanners + [self.tgt]:
            subprocess.run(["ip", "netns", "del", s], check=False)


def scale_cmd(ns, rate, out, shard=None):
    cmd = ["ip", "netns", "exec", ns]
    if shard is not None:
        cmd += ["env", f"JOB_COMPLETION_INDEX={shard}"]
    cmd += [SYNSCAN, SCALE_HOSTS, "-p", SCALE_PORTS, "-sS", "-Pn", "--seed", "17",
            "--format", "ndjson", "-o", out, "--no-progress"]
    if rate:
        cmd += ["--rate", rate]
    if shard is not None:
        cmd += ["--shard-index-env", "JOB_COMPLETION_INDEX", "--shards", "4"]
    return cmd


def open_pairs_of(path):
    pairs = set()
    for line in open(path):
        if '"state":"open"' in line:
            m = re.search(r'"ip":"([^"]+)","port":(\d+)', line)
            if m:
                pairs.add((m.group(1), int(m.group(2))))
    return pairs


def bench_scale_out():
    """Wall time of one process vs 4 shard processes (started together, timed to the last
    one's end, then merged) at the same per-process --rate; then merge of 10M records."""
    runs = int(os.environ.get("SCALE_RUNS", "3"))
    hosts = (1 << 14) - 2
    truth = hosts * len(SCALE_OPEN)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, ScaleLab(4) as lab:
        for rate in ["50000", "100000", None]:
            label = f"--rate {rate}" if rate else "no --rate"
            single_walls, shard_walls, merge_walls, found = [], [], [], {}
            for _ in range(runs):
                out = os.path.join(tmp, "single.ndjson")
                wall, rss, _ = timed(scale_cmd(lab.scanners[0], rate, out))
                single_walls.append(wall or TIMEOUT)
                found["single"] = len(open_pairs_of(out))
                vol = os.path.join(tmp, "vol")
                shutil.rmtree(vol, ignore_errors=True)
                os.makedirs(vol)
                t0 = time.monotonic()
                procs = [subprocess.Popen(scale_cmd(lab.scanners[k], rate,
                                                    os.path.join(vol, f"shard-{k}.ndjson"), k),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                         for k in range(4)]
                for p in procs:
                    p.wait(timeout=TIMEOUT)
                shard_walls.append(time.monotonic() - t0)
                merged = os.path.join(tmp, "merged.ndjson")
                mwall, _, _ = timed([SYNSCAN, "merge", vol, "--format", "ndjson", "-o", merged])
                merge_walls.append(mwall or TIMEOUT)
                found["shards"] = len(open_pairs_of(merged))
            row = {"rate": label, "single": statistics.median(single_walls),
                   "shards": statistics.median(shard_walls),
                   "merge": statistics.median(merge_walls),
                   "single_found": found["single"], "shards_found": found["shards"],
                   "truth": truth, "runs": runs}
            print(f"  {label:16} single {row['single']:.2f}s 4 shards {row['shards']:.2f}s "
                  f"(+merge {row['merge']:.2f}s) open {found}", flush=True)
            rows.append(row)
        if shutil.which("masscan"):
            rows.extend(scale_masscan(lab, tmp))
        rows.append(bench_merge_10m(tmp))
    return rows


def scale_masscan(lab, tmp):
    """masscan 1.3.2 on the same work, one process and 4 `--shard k/4` processes with one
    `--seed`, at the same per-process rates (its own stack; --wait 2 instead of its 10 s)."""
    # A datagram every 0.2 s to each scanner: masscan blocks in poll() on a silent link.
    code = ("import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "end=time.time()+1500\nwhile time.time()<end:\n"
            "  for k in range(4): s.sendto(b'k',('10.69.%d.1' % k,9))\n  time.sleep(0.2)\n")
    ka = subprocess.Popen(["ip", "netns", "exec", lab.tgt, "python3", "-c", code])
    rows = []

    def cmd(k, rate, out, shard):
        gw = open_ns_file(lab.tgt, f"/sys/class/net/bso{k}b/address")
        mine = open_ns_file(lab.scanners[k], f"/sys/class/net/bso{k}a/address")
        c = ["ip", "netns", "exec", lab.scanners[k], "masscan", SCALE_HOSTS, "-p" + SCALE_PORTS,
             "--rate", rate, "--adapter", f"bso{k}a", "--adapter-ip", f"10.69.{k}.1",
             "--adapter-mac", mine, "--router-mac", gw, "--wait", "2", "--seed", "17",
             "-oL", out]
        return c + (["--shard", f"{shard}/4"] if shard else [])

    def opens(paths):
        pairs = set()
        for p in paths:
            for line in open(p):
                f = line.split()
                if len(f) >= 4 and f[0] == "open":
                    pairs.add((f[3], int(f[2])))
        return len(pairs)

    try:
        for rate in ["50000", "100000"]:
            out = os.path.join(tmp, "m-single.list")
            wall, _, _ = timed(cmd(0, rate, out, None))
            single, single_found = wall or TIMEOUT, opens([out])
            outs = [os.path.join(tmp, f"m-{k}.list") for k in range(4)]
            t0 = time.monotonic()
            procs = [subprocess.Popen(cmd(k, rate, outs[k], k + 1), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL) for k in range(4)]
            for p in procs:
                p.wait(timeout=TIMEOUT)
            shards = time.monotonic() - t0
            row = {"rate": f"--rate {rate}", "tool": "masscan", "single": single,
                   "shards": shards, "merge": None, "single_found": single_found,
                   "shards_found": opens(outs), "truth": 16382 * len(SCALE_OPEN),
                   "runs": 1}
            print(f"  masscan {row['rate']:16} single {single:.2f}s 4 shards {shards:.2f}s "
                  f"open {single_found}/{row['shards_found']}", flush=True)
            rows.append(row)
    finally:
        ka.kill()
        ka.wait()
    return rows


def bench_merge_10m(tmp):
    """`synscan merge` of 4 shard files holding 10 million records in all (10.0.0.0/12 × 10
    ports, each pair once, all "open"), into ndjson and into XML: wall and peak RSS."""
    total = int(os.environ.get("MERGE_RECORDS", "10000000"))
    vol = os.path.join(tmp, "m10")
    os.makedirs(vol, exist_ok=True)
    # Real headers, from runs in a namespace with no route (nothing is probed).
    subprocess.run(["ip", "netns", "add", "bsoh"], check=True)
    try:
        headers = []
        for k in range(4):
            out = os.path.join(vol, f"h{k}")
            subprocess.run(["ip", "netns", "exec", "bsoh", SYNSCAN, "10.0.0.0/12", "-p", "1-10",
                            "-sS", "-Pn", "--seed", "5", "--shard", f"{k + 1}/4", "--format",
                            "ndjson", "-o", out, "--no-progress"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
            lines = open(out).read().splitlines()
            headers.append((lines[0], lines[-1]))
            os.remove(out)
    finally:
        subprocess.run(["ip", "netns", "del", "bsoh"], check=False)
    t0 = time.monotonic()
    per = total // 4
    base = 10 << 24
    for k in range(4):
        with open(os.path.join(vol, f"shard-{k}.ndjson"), "w", buffering=1 << 20) as f:
            f.write(headers[k][0] + "\n")
            for i in range(k * per, (k + 1) * per):
                h, p = divmod(i, 10)
                ip = base + 1 + h
                f.write(f'{{"ip":"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}",'
                        f'"port":{p + 1},"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,'
                        f'"rtt_ms":0.1}}\n')
            f.write(headers[k][1] + "\n")
    size = sum(os.path.getsize(os.path.join(vol, f"shard-{k}.ndjson")) for k in range(4))
    print(f"  wrote {total} records ({size / 1e6:.0f} MB) in {time.monotonic() - t0:.0f}s",
          flush=True)
    row = {"merge10m": True, "records": total, "mb": size / 1e6}
    for fmt in ["ndjson", "xml"]:
        out = os.path.join(tmp, f"m10.{fmt}")
        wall, rss, _ = timed([SYNSCAN, "merge", vol, "--format", fmt, "-o", out], timeout=1200)
        written = LAST_STDERR[0].strip().splitlines()[-1] if LAST_STDERR[0].strip() else ""
        row[fmt] = (wall, rss, written)
        print(f"  merge 10M -> {fmt}: {wall:.1f}s, peak RSS {rss / 1024:.1f} MiB; {written}",
              flush=True)
        os.remove(out)
    shutil.rmtree(vol, ignore_errors=True)
    return row


def scale_table(title, rows, note):
    lines = [f"### {title}", "", note, "",
             f"Each run scans {SCALE_HOSTS} (16,382 any-IP hosts) × ports {SCALE_PORTS} = "
             "819,100 pairs; 3 ports listen on every host. The 4 shards run at once, each in "
             "its own scanner namespace and veth, with `--shard-index-env JOB_COMPLETION_INDEX "
             "--shards 4`; their wall time runs from the first start to the last end, and "
             "merge's time is given beside it.", "",
             "| tool | per-process rate | single process | 4 shards | speed-up | merge of the 4 | "
             "open pairs (single / merged / truth) |", "|---|---|---|---|---|---|---|"]
    m = None
    for r in rows:
        if r.get("merge10m"):
            m = r
            continue
        merge = f"{r['merge']:.2f} s" if r["merge"] is not None else "none (concatenate -oL)"
        lines.append(f"| {r.get('tool', 'synscan')} ({r['runs']} run{'s' if r['runs'] > 1 else ''})"
                     f" | {r['rate']} | {r['single']:.2f} s | {r['shards']:.2f} s | "
                     f"{r['single'] / r['shards']:.2f}× | {merge} | "
                     f"{r['single_found']} / {r['shards_found']} / {r['truth']} |")
    lines.append("")
    lines.append("The machine has 2 cores shared by the 4 shards, the target's kernel and the "
                 "veths: with a per-process rate cap (a per-source limit, the reason to shard) "
                 "the shards add up their rates until the cores run out; without one, a single "
                 "process already uses what the cores give, and 4 shards can only share it. "
                 "On N machines each shard has its own cores and uplink. masscan runs with "
                 "`--wait 2` (its default wait is 10 s) and its own TCP stack, from the same "
                 "scanner namespaces; its rows are single runs. masscan 1.3.2 misses most "
                 "open pairs in this lab whatever the sharding (by hand, on the same lab: "
                 "282 of 762 on a /24 at 50,000/s, 10,469 of 12,282 on a /20 at 5,000/s), so "
                 "its times are not for the same result.")
    if m:
        lines += ["", f"`synscan merge` of 4 shard files holding {m['records']:,} records "
                  f"({m['mb']:.0f} MB of ndjson, 10.0.0.0/12 × 10 ports, every record open):", "",
                  "| output | wall | peak RSS | summary |", "|---|---|---|---|"]
        for fmt in ["ndjson", "xml"]:
            wall, rss, written = m[fmt]
            lines.append(f"| {fmt} | {wall:.1f} s | {rss / 1024:.1f} MiB | {written} |")
        lines += ["", "Records wait in the output's external sort (28 bytes each, runs on disk "
                  "past 2 MiB), so memory stays flat in the record count."]
    lines.append("")
    return "\n".join(lines)


BENCHES = {
    "connect": (bench_connect, "Connect scan, 1 host × 65535 ports on loopback", table),
    "syn-loopback": (bench_syn_loopback, "SYN scan on loopback (all ports; top 1000)", table),
    "send-rate": (bench_send_rate, "Send rate into a veth, one sender thread", rate_table),
    "full-port": (bench_full_port, "SYN scan of one lab host, all 65535 ports", table),
    "sweep": (bench_sweep, "Sweep of an any-IP /17 × port 80", table),
    "full-port6": (bench_full_port6, "IPv6 SYN scan of one lab host, all 65535 ports", table),
    "sweep6": (bench_sweep6, "IPv6 sweep of an any-IP /112 × port 80", table),
    "loss": (bench_loss, "All ports of one lab host under random loss", table),
    "congestion": (bench_congestion,
                   "Ports 1-20000 of a lab host that drops SYNs beyond 2000 a second", table),
    "wire": (bench_wire, "Wire views: ours, etherparse and pnet_packet on the receiver's work",
             wire_table),
    "memory": (bench_memory, "Memory of --dry-run over large work", memory_table),
    "flat": (bench_flat, "Sweeps in flat memory: any-IP /16, /14, /12 × port 80 and /20 × 100 "
             "ports", flat_table),
    "udp": (bench_udp, "UDP scans (-sU) beside nmap -sU and masscan", udp_table),
    "discovery": (bench_discovery, "Host discovery beside nmap -sn, zmap and masscan --ping",
                  discovery_table),
    "banners": (bench_banners, "Banners and service identification on a lab host, all ports",
                banners_table),
    "scale-out": (bench_scale_out, "Scale-out: 4 shard pods beside one process, and merge",
                  scale_table),
    "ranking": (bench_ranking, "Default port lists against nmap's open-frequency data",
                ranking_table),
}


def main():
    names = sys.argv[1:] or list(BENCHES)
    for name in names:
        if name not in BENCHES:
            sys.exit(f"bench.sh: unknown benchmark '{name}' (have: {', '.join(BENCHES)})")
        fn, title, fmt = BENCHES[name]
        rows = fn()
        runs = os.environ.get("LOSS_RUNS", "3") if name in ("loss", "congestion") else RUNS
        if name == "flat":
            runs = os.environ.get("FLAT_RUNS", "3")
        if name == "banners":
            runs = "as listed:"
        if name == "scale-out":
            runs = os.environ.get("SCALE_RUNS", "3")
        note = f"Machine: {machine()}." + ("" if name == "wire" else f" {runs} runs per tool.")
        write_section(name, fmt(title, rows, note))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
