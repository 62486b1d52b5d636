#!/usr/bin/env python3
"""Side-by-side benchmarks of synscan and its peers on the same work, in one run.

Every probe goes to 127.0.0.0/8 or to namespaces this script creates and removes. Each tool's
result is checked against ground truth; the table goes into docs/benchmarks.md between
markers, with the machine's description.
"""
import os, re, shutil, socket, statistics, subprocess, sys, tempfile, time, platform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYNSCAN = os.path.join(ROOT, "target", "release", "synscan")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


def timed(cmd, timeout=300):
    """Runs cmd; returns (wall seconds, peak RSS KiB, stdout)."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name] + cmd,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=timeout, text=True)
        wall = time.monotonic() - t0
        rss = 0
        for line in open(tf.name):
            if line.strip().isdigit():
                rss = int(line.strip())
        return wall, rss, p.stdout


def loopback_listeners():
    """Ports listening on IPv4 loopback (127.0.0.1, 0.0.0.0, ::) right now."""
    out = subprocess.run(["ss", "-Hltn"], stdout=subprocess.PIPE, text=True).stdout
    ports = set()
    for line in out.splitlines():
        local = line.split()[3]
        addr, _, port = local.rpartition(":")
        if addr in ("127.0.0.1", "0.0.0.0", "*", "[::]", "[::ffff:127.0.0.1]"):
            ports.add(int(port))
    return ports


def measure(name, cmd, parse, truth, runs=RUNS):
    walls, rsss, found_sets = [], [], []
    for _ in range(runs):
        wall, rss, out = timed(cmd)
        walls.append(wall)
        rsss.append(rss)
        found_sets.append(parse(out))
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
    }
    print(f"  {name:10} median {row['median']:.3f}s  [{row['min']:.3f}-{row['max']:.3f}]  "
          f"{row['rss']:.1f} MiB  found {row['found']}/{len(truth)} missed<= {worst_missed} "
          f"false<= {worst_false}", flush=True)
    return row


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
    """synscan -sT vs nmap -sT vs RustScan: 1 host x 65535 ports on loopback, 30 listeners."""
    socks = []
    for _ in range(30):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(128)
        socks.append(s)
    try:
        truth = loopback_listeners() | {s.getsockname()[1] for s in socks}
        print(f"connect: 127.0.0.1 -p- with {len(truth)} listening ports", flush=True)
        rows = [measure("synscan", [SYNSCAN, "-sT", "127.0.0.1", "-p-", "--format", "list",
                                    "--no-progress"], parse_list, truth)]
        if shutil.which("nmap"):
            rows.append(measure("nmap", ["nmap", "-sT", "-p-", "-T4", "-n", "127.0.0.1",
                                         "-oG", "-"], parse_nmap_grepable, truth))
        rustscan = shutil.which("rustscan") or os.path.expanduser("~/.cargo/bin/rustscan")
        if os.path.exists(rustscan):
            rows.append(measure("rustscan", [rustscan, "-a", "127.0.0.1", "-r", "1-65535", "-g",
                                             "--ulimit", "20000"], parse_rustscan, truth))
        return rows
    finally:
        for s in socks:
            s.close()


def bench_syn_loopback():
    """synscan -sS vs nmap -sS on loopback: all ports, and the top 1000, 30 listeners."""
    socks = []
    for _ in range(30):
        sk = socket.socket()
        sk.bind(("127.0.0.1", 0))
        sk.listen(128)
        socks.append(sk)
    try:
        truth = loopback_listeners() | {sk.getsockname()[1] for sk in socks}
        print(f"syn-loopback: 127.0.0.1 -p- with {len(truth)} listening ports", flush=True)
        rows = [measure("synscan", [SYNSCAN, "-sS", "127.0.0.1", "-p-", "--format", "list",
                                    "--no-progress"], parse_list, truth)]
        if shutil.which("nmap"):
            rows.append(measure("nmap", ["nmap", "-sS", "-p-", "-T4", "-n", "-Pn", "127.0.0.1",
                                         "-oG", "-"], parse_nmap_grepable, truth))
        top = {int(p) for p in open(os.path.join(ROOT, "data", "top-tcp-ports.txt")).read().split()[:1000]}
        small = truth & top
        print(f"syn-loopback: 127.0.0.1 --top-ports 1000 ({len(small)} listening among them)", flush=True)
        rows.append(measure("synscan top-1000", [SYNSCAN, "-sS", "127.0.0.1", "--top-ports", "1000",
                                                 "--format", "list", "--no-progress"], parse_list, small))
        return rows
    finally:
        for sk in socks:
            sk.close()


def table(title, rows, note=""):
    base = rows[0]["median"]
    lines = [f"### {title}", "", note, "",
             "| tool | wall median | min–max | vs synscan | peak RSS | found | missed | false |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tool']} | {r['median']:.3f} s | {r['min']:.3f}–{r['max']:.3f} s | "
                     f"{r['median'] / base:.2f}× | {r['rss']:.1f} MiB | {r['found']}/{r['truth']} | "
                     f"{r['missed']} | {r['false']} |")
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


BENCHES = {
    "connect": (bench_connect, "Connect scan, 1 host × 65535 ports on loopback"),
    "syn-loopback": (bench_syn_loopback, "SYN scan on loopback (all ports; top 1000)"),
}


def main():
    names = sys.argv[1:] or list(BENCHES)
    for name in names:
        if name not in BENCHES:
            sys.exit(f"bench.sh: unknown benchmark '{name}' (have: {', '.join(BENCHES)})")
        fn, title = BENCHES[name]
        rows = fn()
        write_section(name, table(title, rows, f"Machine: {machine()}. {RUNS} runs per tool."))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
