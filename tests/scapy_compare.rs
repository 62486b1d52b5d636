//! `read --format json` beside Scapy, field by field, on 200 random frames: Ethernet,
//! 802.1Q, IPv4 (with options and fragments), IPv6 (with extension headers), TCP with every
//! option we name (and unknown kinds), UDP, ICMP echo and errors quoting TCP, UDP and ICMP,
//! ICMPv6 echo, errors and neighbor discovery, ARP, Ethernet padding; some with wrong
//! checksums, some cut short by the snapshot length (in the payload, and inside a header).
//!
//! A Python script run by Debian's Scapy (`/usr/bin/python3`, package python3-scapy) builds
//! the frames from templates with a fixed seed, writes the pcap records itself (so the
//! original length of a cut frame is exact) and writes Scapy's dissection of the captured
//! bytes, in our layer and field names, with Scapy's own checksum verdicts (each layer rebuilt
//! with its checksum deleted). The test reads the same file with `synscan read --format json`
//! and compares every field.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;
use std::time::Instant;

/// The frame generator: `python3 -c GENERATOR PCAP JSON`. Deterministic (fixed seed, fixed
/// timestamps): every run writes the same bytes.
const GENERATOR: &str = r##"
import json, random, struct, sys
import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import (Ether, Dot1Q, IP, IPv6, TCP, UDP, ICMP, ARP, Raw, Padding,
                       IPerror, TCPerror, UDPerror, ICMPerror, IPerror6,
                       ICMPv6EchoRequest, ICMPv6EchoReply, ICMPv6DestUnreach,
                       ICMPv6TimeExceeded, ICMPv6ND_NS, ICMPv6ND_NA,
                       ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr, NoPayload,
                       IPOption_NOP, IPOption_Router_Alert, IPOption_RR,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting)

pcap_path, json_path = sys.argv[1], sys.argv[2]
# 802.1Q's drop-eligible bit: "id" in Scapy 2.5, "dei" in later versions.
DEI = "dei" if any(f.name == "dei" for f in Dot1Q.fields_desc) else "id"
R = random.Random(20240512)


def mac():
    b = [R.randrange(256) for _ in range(6)]
    b[0] &= 0xfe
    return ":".join("%02x" % x for x in b)


def ip4():
    return "%d.%d.%d.%d" % (R.randrange(1, 224), R.randrange(256), R.randrange(256),
                            R.randrange(1, 255))


def ip6():
    # Some zero groups, so that the canonical form compresses a run.
    g = [R.choice([0, 0, R.randrange(1, 0x10000), R.randrange(0x10000)]) for _ in range(8)]
    g[0] = R.choice([0xfd93, 0x2001, 0xfe80, 0x2a00 + R.randrange(256)])
    return ":".join("%x" % x for x in g)


def payload(lo=0, hi=60):
    n = R.randrange(lo, hi + 1)
    kind = R.randrange(3)
    if kind == 0:
        return bytes(R.randrange(256) for _ in range(n))
    if kind == 1:
        return bytes(R.choice(b"abcdefgh XYZ0123\"\\\n\r\t") for _ in range(n))
    return b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[:n]


def tcp_options():
    pool = []
    pool.append(("MSS", R.randrange(65536)))
    pool.append(("WScale", R.randrange(15)))
    pool.append(("SAckOK", b""))
    pool.append(("Timestamp", (R.randrange(2**32), R.randrange(2**32))))
    n = R.randrange(1, 5)
    blocks = []
    for _ in range(n):
        left = R.randrange(2**32)
        blocks += [left, (left + R.randrange(1, 100000)) % 2**32]
    pool.append(("SAck", tuple(blocks)))
    pool.append(("NOP", None))
    # Kinds neither we nor Scapy know: shown raw by both.
    pool.append((R.choice([30, 31, 76, 200, 253, 254]),
                 bytes(R.randrange(256) for _ in range(R.randrange(0, 6)))))
    R.shuffle(pool)
    chosen = pool[:R.randrange(0, len(pool) + 1)]
    out, size = [], 0
    for o in chosen:
        name, val = o
        ln = {"MSS": 4, "WScale": 3, "SAckOK": 2, "Timestamp": 10, "NOP": 1, "EOL": 1}.get(name)
        if name == "SAck":
            ln = 2 + 4 * len(val)
        elif ln is None:
            ln = 2 + len(val)
        if size + ln <= 40:
            out.append(o)
            size += ln
    if size < 40 and R.random() < 0.2:
        # End of list, last: options after it would be lost by Scapy's dissection, and so
        # its rebuild (the checksum verdict) would not be the same bytes.
        out.append(("EOL", None))
    return out


def tcp():
    return TCP(sport=R.randrange(65536), dport=R.randrange(65536), seq=R.randrange(2**32),
               ack=R.randrange(2**32), flags=R.randrange(256), window=R.randrange(65536),
               urgptr=R.choice([0, 0, R.randrange(65536)]), options=tcp_options())


def ipv4(**kw):
    kw.setdefault("ttl", R.randrange(1, 256))
    return IP(src=ip4(), dst=ip4(), id=R.randrange(65536), tos=R.choice([0, 0, R.randrange(256)]),
              flags=R.choice([0, 2]), **kw)


def ipv6(**kw):
    kw.setdefault("hlim", R.randrange(1, 256))
    return IPv6(src=ip6(), dst=ip6(), tc=R.choice([0, R.randrange(256)]),
                fl=R.choice([0, R.randrange(1 << 20)]), **kw)


def ether():
    return Ether(src=mac(), dst=mac())


def dot1q():
    return Dot1Q(prio=R.randrange(8), vlan=R.randrange(4096), **{DEI: R.randrange(2)})


def maybe_pad(p):
    b = bytes(p)
    if len(b) < 60 and R.random() < 0.7:
        p = p / Padding(load=bytes(R.choice([0, R.randrange(256)]) for _ in range(60 - len(b))))
    return p


# The checksum field of each layer whose checksum we judge.
CKF = {TCP: "chksum", UDP: "chksum", ICMP: "chksum", IP: "chksum",
       ICMPv6EchoRequest: "cksum", ICMPv6EchoReply: "cksum", ICMPv6DestUnreach: "cksum",
       ICMPv6TimeExceeded: "cksum", ICMPv6ND_NS: "cksum", ICMPv6ND_NA: "cksum"}


CORRUPTED = []


def corrupt(p, cls):
    """Sets the checksum of p's cls layer to a wrong (nonzero) value."""
    f = CKF[cls]
    good = getattr(Ether(bytes(p))[cls], f)
    bad = good
    while bad == good or bad == 0 or (cls is UDP and bad == 0xffff and good == 0):
        bad = R.randrange(1, 0x10000)
    setattr(p[cls], f, bad)
    CORRUPTED.append(cls)
    return p


def verdict(pkt, cls):
    """Scapy's own verdict: rebuild the layer with its checksum deleted and compare."""
    f = CKF[cls]
    q = pkt.copy()
    delattr(q[cls], f)
    return getattr(Ether(bytes(q))[cls], f) == getattr(pkt[cls], f)


def first_transport(p):
    for cls in (TCP, UDP, ICMP, ICMPv6EchoRequest, ICMPv6EchoReply, ICMPv6DestUnreach,
                ICMPv6TimeExceeded, ICMPv6ND_NS, ICMPv6ND_NA):
        if cls in p:
            return cls
    return None


def maybe_bad(p, rate=0.3):
    """Corrupts the transport checksum of some frames and the IPv4 one of a few."""
    t = first_transport(p)
    if t is not None and R.random() < rate:
        corrupt(p, t)
    if IP in p and R.random() < 0.08:
        corrupt(p, IP)
    return p


CALLS = {}


def nth(name):
    """How many times this template has run, this one included."""
    CALLS[name] = CALLS.get(name, 0) + 1
    return CALLS[name]


# ---- templates: (name, count, builder returning (packet, caplen or None)) ----

def ip_options():
    return R.choice([[], [], [], [IPOption_NOP()] * 4, [IPOption_Router_Alert()],
                     [IPOption_RR(routers=[ip4(), ip4()])]])


def t_tcp4():
    p = ether() / ipv4(options=ip_options()) / tcp()
    if R.random() < 0.4:
        p = p / Raw(payload(1))
    return maybe_bad(maybe_pad(p)), None


def maybe_trailer(p):
    """Bytes past the IPv6 payload length (a trailer some NICs leave): Padding."""
    if R.random() < 0.25:
        p = p / Padding(load=bytes(R.randrange(256) for _ in range(R.randrange(1, 9))))
    return p


def t_tcp6():
    p = ether() / ipv6() / tcp()
    if R.random() < 0.4:
        p = p / Raw(payload(1))
    return maybe_bad(maybe_trailer(p)), None


def udp():
    return UDP(sport=R.randrange(65536), dport=R.randrange(65536)) / Raw(payload(1))


def t_vlan_udp4():
    return maybe_bad(maybe_pad(ether() / dot1q() / ipv4() / udp())), None


def t_vlan_udp6():
    p = ether() / dot1q() / ipv6() / udp()
    if nth("vlan_udp6") % 5 == 0:
        # Zero over IPv6 is wrong (RFC 8200): both flag it.
        p[UDP].chksum = 0
        CORRUPTED.append(UDP)
        return p, None
    return maybe_bad(p), None


def t_udp4():
    p = ether() / ipv4(options=ip_options()) / udp()
    if nth("udp4") % 3 == 0:
        # Zero: no checksum (RFC 768), which is not wrong over IPv4.
        p[UDP].chksum = 0
        return maybe_pad(p), None
    return maybe_bad(maybe_pad(p)), None


def t_icmp_echo():
    p = ether() / ipv4() / ICMP(type=R.choice([0, 8]), id=R.randrange(65536),
                                seq=R.randrange(65536))
    if R.random() < 0.7:
        p = p / Raw(payload(1, 40))
    return maybe_bad(maybe_pad(p)), None


ICMP_ERRORS = [(3, 0), (3, 1), (3, 3), (3, 4), (3, 10), (3, 13), (11, 0), (11, 1)]


def quoted_bytes(inner, full, short=False):
    b = bytes(inner)
    # RFC 792 quotes the IP header and 8 bytes; Linux quotes more; some quote less.
    return b if full else b[:(b[0] & 15) * 4 + (4 if short else 8)]


def t_icmp_err_tcp():
    inner = ipv4() / tcp()
    t, c = R.choice(ICMP_ERRORS)
    q = quoted_bytes(inner, R.random() < 0.5, nth("icmp_err_tcp") % 4 == 0)
    p = ether() / ipv4() / ICMP(type=t, code=c) / Raw(q)
    p = Ether(bytes(p))
    return maybe_bad(p), None


def t_icmp_err_icmp():
    inner = ipv4() / ICMP(type=8, id=R.randrange(65536), seq=R.randrange(65536)) / Raw(payload(0, 20))
    t, c = R.choice(ICMP_ERRORS)
    p = ether() / ipv4() / ICMP(type=t, code=c) / Raw(quoted_bytes(inner, R.random() < 0.5))
    p = Ether(bytes(p))
    return maybe_bad(p), None


def t_icmp_err_udp():
    inner = ipv4() / udp()
    t, c = R.choice(ICMP_ERRORS)
    p = ether() / ipv4() / ICMP(type=t, code=c) / Raw(quoted_bytes(inner, R.random() < 0.5))
    p = Ether(bytes(p))
    return maybe_bad(p), None


def t_icmp6_echo():
    cls = R.choice([ICMPv6EchoRequest, ICMPv6EchoReply])
    p = ether() / ipv6() / cls(id=R.randrange(65536), seq=R.randrange(65536),
                               data=payload(0, 40))
    return maybe_bad(maybe_trailer(p)), None


def t_icmp6_unreach_tcp():
    inner = ipv6() / tcp()
    b = bytes(inner)
    if R.random() < 0.5:
        b = b[:48]
    if R.random() < 0.8:
        m = ICMPv6DestUnreach(code=R.randrange(7))
    else:
        m = ICMPv6TimeExceeded(code=R.randrange(2))
    p = Ether(bytes(ether() / ipv6() / m / Raw(b)))
    return maybe_bad(p), None


def t_icmp6_nd():
    tgt = ip6()
    if R.random() < 0.6:
        m = ICMPv6ND_NS(tgt=tgt)
        if R.random() < 0.8:
            m = m / ICMPv6NDOptSrcLLAddr(lladdr=mac())
    else:
        m = ICMPv6ND_NA(tgt=tgt, R=R.randrange(2), S=R.randrange(2), O=R.randrange(2))
        if R.random() < 0.8:
            m = m / ICMPv6NDOptDstLLAddr(lladdr=mac())
    p = Ether(bytes(ether() / ipv6(hlim=255) / m))
    return maybe_bad(p), None


def t_arp():
    p = ether() / ARP(op=R.choice([1, 1, 2, 2, 3, 4]), hwsrc=mac(), psrc=ip4(),
                      hwdst=R.choice(["00:00:00:00:00:00", mac()]), pdst=ip4())
    return maybe_pad(p), None


def t_cut_payload():
    """Cut by the snapshot length inside the payload: every header is whole."""
    b = R.choice([lambda: ether() / ipv4() / tcp(), lambda: ether() / ipv6() / tcp(),
                  lambda: ether() / ipv4() / UDP(sport=R.randrange(65536), dport=R.randrange(65536)),
                  lambda: ether() / dot1q() / ipv6() / UDP(sport=R.randrange(65536), dport=R.randrange(65536))])
    p = b() / Raw(payload(20, 200))
    p = maybe_bad(p, 0.5)
    n = len(bytes(p))
    hdr = n - len(p[Raw].load)
    return p, R.randrange(hdr, n)


def t_cut_header():
    """Cut inside the IP, IPv6 or TCP header (or the TCP options)."""
    p = R.choice([lambda: ether() / ipv4() / tcp(), lambda: ether() / ipv6() / tcp()])()
    p = Ether(bytes(p / Raw(payload(0, 30))))
    l4 = len(bytes(p)) - len(bytes(p[TCP]))
    where = R.randrange(3)
    if where == 0:
        cut = R.randrange(15, l4)
    elif where == 1:
        cut = R.randrange(l4, l4 + 20)
    else:
        cut = l4 + R.randrange(20, max(21, p[TCP].dataofs * 4))
        if p[TCP].dataofs == 5:
            cut = R.randrange(l4, l4 + 20)
    return p, cut


def t_ipv6_ext():
    """Hop-by-hop and destination options before TCP or UDP (and a routing header)."""
    i = nth("ipv6_ext")
    ext = R.choice([IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(),
                    IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()])
    if i == 5:
        ext = IPv6ExtHdrRouting(addresses=[ip6(), ip6()], segleft=2)
    if i == 6:
        ext = IPv6ExtHdrRouting(addresses=[ip6()], segleft=0)
    up = tcp() if i % 2 else udp()
    return maybe_bad(Ether(bytes(ether() / ipv6() / ext / up))), None


def t_ip_frag():
    p = ether() / IP(src=ip4(), dst=ip4(), ttl=R.randrange(1, 256), id=R.randrange(65536),
                     flags="MF", frag=R.choice([0, 0, R.randrange(1, 100)])) / tcp() / Raw(payload(8, 40))
    return maybe_bad(Ether(bytes(p)), 0.5), None


TEMPLATES = [
    ("tcp4", 37, t_tcp4), ("tcp6", 20, t_tcp6), ("vlan_udp4", 12, t_vlan_udp4),
    ("vlan_udp6", 12, t_vlan_udp6), ("udp4", 8, t_udp4), ("icmp_echo", 12, t_icmp_echo),
    ("icmp_err_tcp", 12, t_icmp_err_tcp), ("icmp_err_icmp", 8, t_icmp_err_icmp),
    ("icmp_err_udp", 4, t_icmp_err_udp), ("icmp6_echo", 10, t_icmp6_echo),
    ("icmp6_err_tcp", 10, t_icmp6_unreach_tcp), ("icmp6_nd", 8, t_icmp6_nd),
    ("arp", 12, t_arp), ("cut_payload", 18, t_cut_payload), ("cut_header", 6, t_cut_header),
    ("ip_frag", 5, t_ip_frag), ("ipv6_ext", 6, t_ipv6_ext),
]

# ---- Scapy's dissection, in our layer and field names ----

def hexs(b):
    return bytes(b).hex()


def tcp_opts_text(opts):
    out = []
    for name, val in opts:
        if name == "MSS":
            out.append("mss:%d" % val)
        elif name == "WScale":
            out.append("wscale:%d" % val)
        elif name == "SAckOK":
            out.append("sackok")
        elif name == "Timestamp":
            out.append("ts:%d:%d" % val)
        elif name == "SAck":
            v = list(val) if isinstance(val, tuple) else [val]
            out.append("sack:" + ",".join("%d-%d" % (v[i], v[i + 1]) for i in range(0, len(v), 2)))
        elif name in ("NOP", "EOL"):
            pass
        elif isinstance(name, int):
            out.append("opt%d:%s" % (name, hexs(val)))
        else:
            raise Exception("unexpected option %r" % (name,))
    return "[" + ", ".join(out) + "]"


def hdr_len(l):
    if isinstance(l, Ether):
        return 14
    if isinstance(l, Dot1Q):
        return 4
    if isinstance(l, IPv6):
        return 40
    if isinstance(l, IP):
        return 20 if l.ihl is None or l.ihl < 5 else l.ihl * 4
    if isinstance(l, TCP):
        return 20 if l.dataofs is None or l.dataofs < 5 else l.dataofs * 4
    if isinstance(l, (UDP, ICMP)):
        return 8
    return 0


def cut_depth(full, caplen):
    """How many layers of the whole packet keep their header whole in caplen bytes (None:
    all of them)."""
    if caplen >= len(full):
        return None
    off, k, l = 0, 0, full
    # A quoted packet's headers may be incomplete by design: only those before it count.
    while l is not None and not isinstance(l, (NoPayload, IPerror, IPerror6)):
        if off + hdr_len(l) > caplen:
            return k
        off += hdr_len(l)
        k += 1
        l = l.payload
    return None


def expected(pkt, caplen, wirelen, depth):
    cut = caplen < wirelen
    layers = []
    off = 0
    k = 0
    l = pkt
    quote = None
    nd = None
    ext = None
    while l is not None and not isinstance(l, NoPayload):
        if depth is not None and k == depth:
            # A header cut short: we show what precedes it, and the rest as Malformed.
            layers.append({"layer": "Malformed", "fields": {}})
            break
        k += 1
        e = None
        if isinstance(l, Ether):
            e = {"layer": "Ethernet", "fields": {"dst": l.dst, "src": l.src, "type": l.type}}
        elif isinstance(l, Dot1Q):
            e = {"layer": "802.1Q", "fields": {"prio": l.prio, "dei": l.getfieldval(DEI), "vlan": l.vlan,
                                                "type": l.type}}
        elif isinstance(l, IPerror6):
            quote = {"layer": "IPv6 in ICMPv6", "fields": {"src": l.src, "dst": l.dst,
                                                           "proto": l.nh, "ttl": l.hlim}}
            e = quote
        elif isinstance(l, IPerror):
            quote = {"layer": "IP in ICMP", "fields": {"src": l.src, "dst": l.dst,
                                                       "proto": l.proto, "ttl": l.ttl}}
            e = quote
        elif isinstance(l, (TCPerror, UDPerror)) and quote is not None:
            # Only the fields the quote holds (Scapy fills the others with defaults).
            for k in ("sport", "dport", "seq") if isinstance(l, TCPerror) else ("sport", "dport"):
                quote["fields"][k] = l.fields[k] if k in l.fields else None
        elif isinstance(l, ICMPerror) and quote is not None:
            # A quoted ICMP message has no ports.
            quote["fields"].update({"type": l.type, "id": l.id, "seq": l.seq, "sport": None,
                                    "dport": None})
        elif isinstance(l, (ICMPv6EchoRequest, ICMPv6EchoReply)) and quote is not None:
            quote["fields"].update({"type": l.type, "id": l.id, "seq": l.seq})
        elif isinstance(l, (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting)):
            # We show the chain as one layer: its length, and the protocol past it.
            if ext is None:
                ext = {"layer": "IPv6 extension headers", "fields": {"len": 0}}
                e = ext
            ext["fields"]["len"] += 8 * (l.len + 1)
            ext["fields"]["upper"] = l.nh
        elif isinstance(l, IPv6):
            f = {"version": l.version, "tc": l.tc, "fl": l.fl, "plen": l.plen, "nh": l.nh,
                 "hlim": l.hlim, "src": l.src, "dst": l.dst, "captured": None}
            if cut:
                f["captured"] = "%d of %d bytes" % (caplen - off, 40 + l.plen)
            e = {"layer": "IPv6", "fields": f}
        elif isinstance(l, IP):
            f = {"version": l.version, "ihl": l.ihl, "tos": l.tos, "len": l.len, "id": l.id,
                 "flags": int(l.flags), "frag": l.frag, "ttl": l.ttl, "proto": l.proto,
                 "chksum": l.chksum, "src": l.src, "dst": l.dst, "captured": None,
                 "options": None}
            if l.ihl > 5:
                f["options"] = hexs(bytes(l)[20:l.ihl * 4])
            if cut:
                f["captured"] = "%d of %d bytes" % (caplen - off, l.len)
            e = {"layer": "IP", "fields": f, "chksum_ok": verdict(pkt, IP)}
        elif isinstance(l, TCP):
            e = {"layer": "TCP", "fields": {
                "sport": l.sport, "dport": l.dport, "seq": l.seq, "ack": l.ack,
                "dataofs": l.dataofs, "flags": str(l.flags), "window": l.window,
                "chksum": l.chksum, "urgptr": l.urgptr, "options": tcp_opts_text(l.options)}}
        elif isinstance(l, UDP):
            e = {"layer": "UDP", "fields": {"sport": l.sport, "dport": l.dport, "len": l.len,
                                            "chksum": l.chksum}}
        elif isinstance(l, ICMP):
            f = {"type": l.type, "code": l.code, "chksum": l.chksum}
            if l.type in (0, 8):
                f.update({"id": l.id, "seq": l.seq})
            e = {"layer": "ICMP", "fields": f}
        elif isinstance(l, (ICMPv6EchoRequest, ICMPv6EchoReply)):
            e = {"layer": "ICMPv6", "fields": {"type": l.type, "code": l.code,
                                               "chksum": l.cksum, "id": l.id, "seq": l.seq}}
            layers.append(e)
            e["_ck"] = type(l)
            if l.data:
                layers.append({"layer": "Raw", "fields": {"load": hexs(l.data)}})
            l = l.payload
            continue
        elif isinstance(l, (ICMPv6DestUnreach, ICMPv6TimeExceeded)):
            e = {"layer": "ICMPv6", "fields": {"type": l.type, "code": l.code,
                                               "chksum": l.cksum}}
        elif isinstance(l, (ICMPv6ND_NS, ICMPv6ND_NA)):
            f = {"type": l.type, "code": l.code, "chksum": l.cksum, "tgt": l.tgt,
                 "lladdr": None}
            if isinstance(l, ICMPv6ND_NA):
                f["flags"] = (l.R << 7) | (l.S << 6) | (l.O << 5)
            e = {"layer": "ICMPv6", "fields": f}
            nd = e  # the options that follow belong to this layer
        elif isinstance(l, (ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr)) and nd is not None:
            nd["fields"]["lladdr"] = l.lladdr
        elif isinstance(l, ARP):
            e = {"layer": "ARP", "fields": {"op": l.op, "hwsrc": l.hwsrc, "psrc": l.psrc,
                                            "hwdst": l.hwdst, "pdst": l.pdst}}
        elif isinstance(l, Padding):
            e = {"layer": "Padding", "fields": {"load": hexs(l.load)}}
        elif isinstance(l, Raw):
            # What follows a quoted header is not shown by us (only the header's fields).
            if quote is None:
                e = {"layer": "Raw", "fields": {"load": hexs(l.load)}}
        else:
            raise Exception("unexpected layer %s" % l.name)
        if e is not None:
            if e["layer"] in ("TCP", "UDP", "ICMP", "ICMPv6"):
                e["_ck"] = type(l)
            layers.append(e)
        off += hdr_len(l)
        l = l.payload
    for e in layers:
        ck = e.pop("_ck", None)
        if ck is not None:
            # A cut frame's transport checksum cannot be judged (nor a fragment's).
            frag = IP in pkt and (pkt[IP].flags.MF or pkt[IP].frag)
            e["chksum_ok"] = None if (cut or frag) else verdict(pkt, ck)
            if ck is UDP and IP in pkt and pkt[UDP].chksum == 0:
                # Scapy's rebuild fills in a checksum where the sender chose to send none
                # (RFC 768): not a wrong one.
                e["chksum_ok"] = True
            # Scapy's verdict agrees with what the generator did.
            assert e["chksum_ok"] in (None, ck not in CORRUPTED), (ck, CORRUPTED)
        elif e.get("chksum_ok") is not None:
            assert e["chksum_ok"] == (IP not in CORRUPTED)
    return layers


frames = []
recs = []
counts = {}
n = 0
for name, count, build in TEMPLATES:
    counts[name] = count
    for _ in range(count):
        CORRUPTED.clear()
        p, caplen = build()
        data = bytes(p)
        wirelen = len(data)
        if caplen is None:
            caplen = wirelen
        n += 1
        pkt = Ether(data[:caplen])
        depth = cut_depth(Ether(data), caplen)
        frames.append({"frame": n, "template": name, "caplen": caplen, "len": wirelen,
                       "layers": expected(pkt, caplen, wirelen, depth)})
        recs.append(struct.pack("<IIII", 1700000000 + n, n * 1000, caplen, wirelen) + data[:caplen])

with open(pcap_path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for r in recs:
        f.write(r)
with open(json_path, "w") as f:
    json.dump({"counts": counts, "frames": frames}, f)
"##;

/// A number out of one of our field values: `6`, `0x1a2b`, `0x1a2b (bad)`, `tcp (6)`,
/// `IPv4 (0x0800)`, `echo-request (8)`.
fn number(v: &str) -> Option<u64> {
    let v = v.strip_suffix(" (bad)").unwrap_or(v);
    let v = match (v.rfind('('), v.strip_suffix(')')) {
        (Some(i), Some(_)) => &v[i + 1..v.len() - 1],
        _ => v,
    };
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// Our IPv4 flags (`DF`, `MF`, `DF+MF`, empty) as the bits Scapy counts (MF 1, DF 2).
fn ip_flags(v: &str) -> Option<u64> {
    v.split('+')
        .filter(|f| !f.is_empty())
        .try_fold(0, |acc, f| match f {
            "MF" => Some(acc | 1),
            "DF" => Some(acc | 2),
            _ => None,
        })
}

/// The bytes of one of our quoted loads (`"ab\x01\n"`), as hex.
fn unquote_hex(v: &str) -> Option<String> {
    let inner = v.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Vec::new();
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1)? {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let h = std::str::from_utf8(b.get(i + 2..i + 4)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            _ => return None,
        }
        i += 2;
    }
    Some(out.iter().map(|c| format!("{c:02x}")).collect())
}

/// Addresses in canonical form (IPv6 compressed the one standard way, MACs lower case).
fn canonical(v: &str) -> String {
    match v.parse::<IpAddr>() {
        Ok(a) => a.to_string(),
        Err(_) => v.to_ascii_lowercase(),
    }
}

/// Ours against Scapy's value for one field; `None` when they agree, else what each says.
fn field_mismatch(layer: &str, field: &str, ours: Option<&str>, want: &Value) -> Option<String> {
    let agree = match (ours, want) {
        (None, Value::Null) => true,
        (Some(_), Value::Null) | (None, _) => false,
        (Some(o), Value::Number(n)) => {
            let mine = if layer == "IP" && field == "flags" {
                ip_flags(o)
            } else {
                number(o)
            };
            mine.is_some() && mine == n.as_u64()
        }
        // Bytes (payloads, padding, IPv4 options) are quoted by us, hex from Scapy.
        (Some(o), Value::String(s)) if field == "load" || (layer == "IP" && field == "options") => {
            unquote_hex(o).as_deref() == Some(s)
        }
        (Some(o), Value::String(s)) => canonical(o) == canonical(s),
        (Some(_), _) => false,
    };
    let ours = ours.map_or("(absent)".to_string(), |o| format!("{o:?}"));
    let want = match want {
        Value::Null => "(absent)".to_string(),
        w => w.to_string(),
    };
    (!agree).then(|| format!("ours {ours}, Scapy {want}"))
}

#[test]
fn read_json_agrees_with_scapy_on_200_random_frames() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("frames.pcap");
    let scapy_json = dir.path().join("scapy.json");
    // Debian's interpreter: the one that has python3-scapy (a `python3` first on PATH may not).
    tool_output(
        Command::new("/usr/bin/python3")
            .args(["-c", GENERATOR])
            .arg(&pcap)
            .arg(&scapy_json),
        "Scapy (/usr/bin/python3 with python3-scapy)",
    );
    let scapy: Value =
        serde_json::from_str(&std::fs::read_to_string(&scapy_json).unwrap()).unwrap();
    let want = scapy["frames"].as_array().expect("frames");

    let out = synscan(&["read", pcap.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let ours: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(ours.len(), want.len(), "frames read: {}", out.stdout);
    assert_eq!(want.len(), 200, "frames the generator wrote");

    let mut bad = Vec::new();
    let mut compared = 0usize;
    let mut per_template: BTreeMap<String, usize> = BTreeMap::new();
    for (o, w) in ours.iter().zip(want) {
        let n = w["frame"].as_u64().unwrap();
        let tpl = w["template"].as_str().unwrap();
        *per_template.entry(tpl.to_string()).or_default() += 1;
        let at = format!("frame {n} ({tpl})");
        for k in ["frame", "caplen", "len"] {
            if o[k] != w[k] {
                bad.push(format!("{at}: {k}: ours {}, pcap {}", o[k], w[k]));
            }
        }
        let ol = o["layers"].as_array().expect("layers");
        let wl = w["layers"].as_array().unwrap();
        let names = |v: &[Value]| -> Vec<String> {
            v.iter()
                .map(|l| l["layer"].as_str().unwrap_or("?").to_string())
                .collect()
        };
        let (on, wn) = (names(ol), names(wl));
        // Malformed only where a header was cut short by the snapshot length.
        if !wn.iter().any(|l| l == "Malformed")
            && let Some(m) = ol.iter().find(|l| l["layer"] == "Malformed")
        {
            bad.push(format!(
                "{at}: ours has a Malformed layer ({}) where Scapy parsed every header: {wn:?}",
                m["fields"]["error"]
            ));
        }
        if on != wn {
            bad.push(format!("{at}: layers: ours {on:?}, Scapy {wn:?}"));
        }
        // Field by field over the layers both name alike, in order.
        for (i, (ly, wy)) in ol.iter().zip(wl).enumerate() {
            let name = wn[i].as_str();
            if on[i] != name {
                break;
            }
            let of = &ly["fields"];
            for (field, wv) in wy["fields"].as_object().unwrap() {
                compared += 1;
                if let Some(m) = field_mismatch(name, field, of[field].as_str(), wv) {
                    bad.push(format!("{at}: layer {name}: field {field}: {m}"));
                }
            }
            // The checksum verdict: "(bad)" exactly where Scapy finds it wrong; never on a
            // packet not captured whole (Scapy's verdict is null there: nothing to judge).
            if let Some(ok) = wy.get("chksum_ok") {
                compared += 1;
                let flagged = of["chksum"].as_str().is_some_and(|c| c.ends_with(" (bad)"));
                if flagged != (ok == &Value::Bool(false)) {
                    bad.push(format!(
                        "{at}: layer {name}: checksum verdict: ours {:?}, Scapy ok={ok}",
                        of["chksum"].as_str()
                    ));
                }
            }
        }
    }
    // The generator's coverage, as Scapy saw it: a change that lost a case fails here.
    let count = |pred: &dyn Fn(&Value) -> bool| {
        want.iter()
            .flat_map(|f| f["layers"].as_array().unwrap())
            .filter(|l| pred(l))
            .count()
    };
    let wrong = count(&|l| l["chksum_ok"] == Value::Bool(false));
    let unjudged = count(&|l| l.get("chksum_ok") == Some(&Value::Null));
    let cut = want.iter().filter(|f| f["caplen"] != f["len"]).count();
    for (layer, at_least) in [
        ("802.1Q", 20),
        ("IPv6", 60),
        ("IP in ICMP", 20),
        ("IPv6 in ICMPv6", 8),
        ("IPv6 extension headers", 5),
        ("ARP", 10),
        ("Padding", 10),
        ("Malformed", 4),
    ] {
        let n = count(&|l| l["layer"] == layer);
        assert!(n >= at_least, "only {n} {layer} layers generated");
    }
    let opts = |needle: &str| {
        count(&|l| {
            l["fields"]["options"]
                .as_str()
                .is_some_and(|o| o.contains(needle))
        })
    };
    for needle in ["sack:", "opt", "ts:", "mss:", "wscale:", "sackok"] {
        assert!(opts(needle) >= 5, "few TCP options {needle}");
    }
    assert!(compared >= 3000, "only {compared} fields compared");
    assert!(
        wrong >= 30 && unjudged >= 15 && cut >= 20,
        "wrong checksums {wrong}, not judged {unjudged}, cut frames {cut}"
    );
    eprintln!(
        "{} frames ({cut} cut short), {compared} fields and verdicts compared, {wrong} wrong \
         checksums, {unjudged} not judged; templates {per_template:?}; {:.1?}",
        want.len(),
        started.elapsed()
    );
    assert!(
        bad.is_empty(),
        "{} disagreements between read --format json and Scapy:\n{}",
        bad.len(),
        bad.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
}
