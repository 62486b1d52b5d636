//! What a UDP probe carries per port, and how a reply proves it answers that probe. Each
//! payload is a template written by us from the protocol's specification (RFC or vendor
//! document, named below), with the probe's cookie patched into a field the protocol echoes:
//! the DNS transaction ID, the SNMP request-id or msgID, the NTP transmit timestamp, the RPC
//! XID, the STUN transaction ID, the IKE initiator SPI, the QUIC connection ID ... A reply
//! counts only when that field comes back (the [`Echo`] check); ports whose protocol echoes
//! nothing are checked by address and ports alone. The list of ports follows zmap's UDP
//! probe set (Apache-2.0) in spirit; nmap's payload file is not used.
//!
//! `--udp-payload-file` adds user payloads in a line format ([`Payloads::parse_file`]).

use std::collections::HashMap;
use std::sync::Arc;

/// How the cookie is written into a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Its low 16 bits, big-endian (DNS ID, CoAP message ID, memcached request ID).
    Be16,
    /// All 32 bits, big-endian.
    Be32,
    /// Its complement, big-endian (a second word where an 8-byte field is echoed).
    NotBe32,
    /// A positive 4-byte BER INTEGER body (0x40000000-0x7fffffff): SNMP and LDAP ids.
    Ber32,
    /// Eight lowercase hexadecimal digits (SIP Call-ID, WS-Discovery MessageID).
    Hex8,
}

impl Field {
    /// Bytes the field takes.
    pub fn width(self) -> usize {
        match self {
            Field::Be16 => 2,
            Field::Be32 | Field::NotBe32 | Field::Ber32 => 4,
            Field::Hex8 => 8,
        }
    }

    /// Writes the field for `cookie` into `out` (at least [`Field::len`] bytes).
    pub fn write(self, cookie: u32, out: &mut [u8]) {
        match self {
            Field::Be16 => out[..2].copy_from_slice(&(cookie as u16).to_be_bytes()),
            Field::Be32 => out[..4].copy_from_slice(&cookie.to_be_bytes()),
            Field::NotBe32 => out[..4].copy_from_slice(&(!cookie).to_be_bytes()),
            Field::Ber32 => out[..4].copy_from_slice(&ber32(cookie).to_be_bytes()),
            Field::Hex8 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for (i, b) in out[..8].iter_mut().enumerate() {
                    *b = HEX[((cookie >> (28 - 4 * i)) & 0xf) as usize];
                }
            }
        }
    }

    /// True when `b` starts with the field for `cookie`.
    pub fn matches(self, cookie: u32, b: &[u8]) -> bool {
        let mut want = [0u8; 8];
        let n = self.width();
        self.write(cookie, &mut want);
        b.get(..n) == Some(&want[..n])
    }
}

/// The value a [`Field::Ber32`] carries: positive, and four bytes in minimal encoding.
pub fn ber32(cookie: u32) -> u32 {
    (cookie & 0x3fff_ffff) | 0x4000_0000
}

/// How a reply shows that it answers our probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// The protocol echoes nothing: address and ports are the whole check.
    Nothing,
    /// `field` at byte `at` of the reply.
    At(usize, Field),
    /// `field` anywhere in the reply (text protocols, where the header's place varies).
    Contains(Field),
    /// A DNS response (QR set) with the ID.
    Dns,
    /// An NTP server reply (mode 4) whose origin timestamp is our transmit timestamp.
    Ntp,
    /// An SNMPv1/v2c message whose PDU's request-id is ours.
    SnmpRequestId,
    /// An SNMPv3 message whose msgID is ours.
    SnmpMsgId,
    /// An LDAP message whose messageID is ours.
    LdapMessageId,
}

/// One payload: a template with the cookie's places, and the check on replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The protocol's name (`dns`, `snmpv3`, `user` for a payload file's).
    pub name: &'static str,
    /// The bytes, cookie fields zero.
    pub data: Vec<u8>,
    /// Where the cookie goes.
    pub patches: Vec<(usize, Field)>,
    /// The check on replies.
    pub echo: Echo,
}

impl Payload {
    /// Writes the payload for `cookie` into `out` (exactly `data.len()` bytes).
    #[inline]
    pub fn write(&self, cookie: u32, out: &mut [u8]) {
        out.copy_from_slice(&self.data);
        for &(at, f) in &self.patches {
            f.write(cookie, &mut out[at..]);
        }
    }

    /// True when `reply` (the UDP data) answers this payload sent with `cookie`.
    pub fn answered_by(&self, cookie: u32, reply: &[u8]) -> bool {
        match self.echo {
            Echo::Nothing => true,
            Echo::At(at, f) => reply.get(at..).is_some_and(|r| f.matches(cookie, r)),
            Echo::Contains(f) => {
                let mut want = [0u8; 8];
                let n = f.width();
                f.write(cookie, &mut want);
                reply.windows(n).any(|w| w == &want[..n])
            }
            Echo::Dns => {
                reply.len() >= 12 && reply[2] & 0x80 != 0 && Field::Be16.matches(cookie, reply)
            }
            Echo::Ntp => {
                reply.len() >= 48
                    && reply[0] & 7 == 4
                    && Field::Be32.matches(cookie, &reply[24..])
                    && Field::NotBe32.matches(cookie, &reply[28..])
            }
            Echo::SnmpRequestId => snmp_request_id(reply) == Some(u64::from(ber32(cookie))),
            Echo::SnmpMsgId => snmp_msg_id(reply) == Some(u64::from(ber32(cookie))),
            Echo::LdapMessageId => ldap_message_id(reply) == Some(u64::from(ber32(cookie))),
        }
    }
}

/// A BER element: tag and contents.
fn ber(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &x| (a << 8) | usize::from(x));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// A non-negative BER INTEGER of at most 8 content bytes.
fn ber_uint(b: &[u8]) -> Option<(u64, &[u8])> {
    let (tag, c, rest) = ber(b)?;
    if tag != 0x02 || c.is_empty() || c.len() > 8 || c[0] & 0x80 != 0 {
        return None;
    }
    Some((c.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)), rest))
}

/// The request-id of an SNMPv1/v2c message: SEQUENCE { version, community, PDU { id ... } }.
pub fn snmp_request_id(b: &[u8]) -> Option<u64> {
    let (0x30, msg, _) = ber(b)? else { return None };
    let (version, rest) = ber_uint(msg)?;
    if version > 1 {
        return None;
    }
    let (0x04, _community, rest) = ber(rest)? else {
        return None;
    };
    let (pdu_tag, pdu, _) = ber(rest)?;
    if !(0xa0..=0xa8).contains(&pdu_tag) {
        return None;
    }
    ber_uint(pdu).map(|(id, _)| id)
}

/// The msgID of an SNMPv3 message: SEQUENCE { 3, SEQUENCE { msgID ... } ... }.
pub fn snmp_msg_id(b: &[u8]) -> Option<u64> {
    let (0x30, msg, _) = ber(b)? else { return None };
    let (3, rest) = ber_uint(msg)? else {
        return None;
    };
    let (0x30, global, _) = ber(rest)? else {
        return None;
    };
    ber_uint(global).map(|(id, _)| id)
}

/// The messageID of an LDAP message: SEQUENCE { messageID, protocolOp ... }.
pub fn ldap_message_id(b: &[u8]) -> Option<u64> {
    let (0x30, msg, _) = ber(b)? else { return None };
    ber_uint(msg).map(|(id, _)| id)
}

/// Most payloads a file may give one port: every payload is a datagram per probe.
pub const MAX_PER_PORT: usize = 16;

/// Payloads by port. Ports with the same list share it: a file line may name 65535 ports.
#[derive(Debug, Clone, Default)]
pub struct Payloads {
    by_port: HashMap<u16, Arc<[Payload]>>,
    /// The longest payload.
    max: usize,
}

/// No payload: the empty datagram, accepted on address and ports.
static EMPTY: [Payload; 0] = [];

impl Payloads {
    /// The shipped payloads.
    pub fn shipped() -> Payloads {
        let mut p = Payloads::default();
        let lines: Vec<(Vec<u16>, Payload)> = shipped()
            .into_iter()
            .map(|(ports, payload)| (ports.to_vec(), payload))
            .collect();
        p.replace(&lines);
        p
    }

    /// Gives every port named in `lines` the payloads of the lines naming it, in order.
    fn replace(&mut self, lines: &[(Vec<u16>, Payload)]) {
        let mut per_port: HashMap<u16, Vec<usize>> = HashMap::new();
        for (i, (ports, _)) in lines.iter().enumerate() {
            for &port in ports {
                per_port.entry(port).or_default().push(i);
            }
        }
        let mut shared: HashMap<Vec<usize>, Arc<[Payload]>> = HashMap::new();
        for (port, idx) in per_port {
            let list = shared
                .entry(idx.clone())
                .or_insert_with(|| idx.iter().map(|&i| lines[i].1.clone()).collect())
                .clone();
            self.by_port.insert(port, list);
        }
        self.max = self
            .by_port
            .values()
            .flat_map(|l| l.iter())
            .map(|p| p.data.len())
            .max()
            .unwrap_or(0);
    }

    /// The payloads of `port` (none: an empty datagram).
    #[inline]
    pub fn of(&self, port: u16) -> &[Payload] {
        self.by_port.get(&port).map_or(&EMPTY[..], |l| &l[..])
    }

    /// Datagrams a probe of `port` sends: one per payload, at least one.
    #[inline]
    pub fn count(&self, port: u16) -> usize {
        self.of(port).len().max(1)
    }

    /// Length of datagram `k` to `port`.
    #[inline]
    pub fn len_of(&self, port: u16, k: usize) -> usize {
        self.of(port).get(k).map_or(0, |p| p.data.len())
    }

    /// The longest payload.
    pub fn max_len(&self) -> usize {
        self.max
    }

    /// True when `reply` from `port` answers a probe sent with `cookie`.
    pub fn answered_by(&self, port: u16, cookie: u32, reply: &[u8]) -> bool {
        let list = self.of(port);
        list.is_empty() || list.iter().any(|p| p.answered_by(cookie, reply))
    }

    /// Replaces the payloads of the ports `text` names (the `--udp-payload-file` format):
    ///
    /// ```text
    /// # comment
    /// udp PORTS "BYTES" [cookie=OFFSET/BITS] [echo=OFFSET]
    /// ```
    ///
    /// PORTS is a comma list of ports and ranges; BYTES a string with C escapes (`\xNN`,
    /// `\r`, `\n`, `\t`, `\0`, `\\`, `\"`); `cookie=OFFSET/16` or `/32` writes the probe's
    /// cookie big-endian at OFFSET; `echo=OFFSET` makes a reply count only when it carries
    /// the same bytes at OFFSET. Errors name the line.
    pub fn parse_file(&mut self, name: &str, text: &str) -> Result<usize, String> {
        let mut lines = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let at = |e: String| format!("{name}:{}: {e}", i + 1);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            lines.push(parse_line(line).map_err(at)?);
        }
        let mut per_port: HashMap<u16, usize> = HashMap::new();
        for (ports, _) in &lines {
            for &p in ports {
                let n = per_port.entry(p).or_default();
                *n += 1;
                if *n > MAX_PER_PORT {
                    return Err(format!(
                        "{name}: port {p} has more than {MAX_PER_PORT} payloads (each is a datagram per probe)"
                    ));
                }
            }
        }
        self.replace(&lines);
        Ok(lines.len())
    }
}

fn parse_line(line: &str) -> Result<(Vec<u16>, Payload), String> {
    let rest = line
        .strip_prefix("udp")
        .filter(|r| r.starts_with([' ', '\t']))
        .ok_or("a payload line starts with 'udp'")?
        .trim_start();
    let (ports_word, rest) = rest.split_once([' ', '\t']).ok_or("no payload string")?;
    let ports = crate::target::PortList::parse(ports_word)
        .map_err(|e| format!("ports '{ports_word}': {e}"))?;
    let rest = rest.trim_start();
    let (data, rest) = parse_string(rest)?;
    if data.len() > 1400 {
        return Err(format!("payload of {} bytes: at most 1400", data.len()));
    }
    let mut patches = Vec::new();
    let mut echo = Echo::Nothing;
    let mut cookie: Option<(usize, Field)> = None;
    let mut echo_at = None;
    for word in rest.split_whitespace() {
        if let Some(v) = word.strip_prefix("cookie=") {
            let (off, bits) = v.split_once('/').ok_or("cookie=OFFSET/BITS")?;
            let off: usize = off.parse().map_err(|_| format!("cookie offset '{off}'"))?;
            let f = match bits {
                "16" => Field::Be16,
                "32" => Field::Be32,
                _ => return Err(format!("cookie bits '{bits}': 16 or 32")),
            };
            if off + f.width() > data.len() {
                return Err(format!("cookie at {off} ends past the payload"));
            }
            cookie = Some((off, f));
        } else if let Some(v) = word.strip_prefix("echo=") {
            echo_at = Some(
                v.parse::<usize>()
                    .map_err(|_| format!("echo offset '{v}'"))?,
            );
        } else {
            return Err(format!("unknown word '{word}'"));
        }
    }
    if let Some((off, f)) = cookie {
        patches.push((off, f));
        if let Some(e) = echo_at {
            echo = Echo::At(e, f);
        }
    } else if echo_at.is_some() {
        return Err("echo= needs cookie=".into());
    }
    Ok((
        ports.as_slice().to_vec(),
        Payload {
            name: "user",
            data,
            patches,
            echo,
        },
    ))
}

/// A double-quoted string with C escapes, and what follows it.
fn parse_string(s: &str) -> Result<(Vec<u8>, &str), String> {
    let body = s
        .strip_prefix('"')
        .ok_or("the payload is a \"quoted string\"")?;
    let mut out = Vec::new();
    let mut it = body.char_indices();
    while let Some((i, c)) = it.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => {
                let (_, e) = it.next().ok_or("unfinished escape")?;
                match e {
                    'x' => {
                        let h: String = [it.next(), it.next()]
                            .iter()
                            .filter_map(|x| x.map(|(_, c)| c))
                            .collect();
                        let b = u8::from_str_radix(&h, 16)
                            .ok()
                            .filter(|_| h.len() == 2)
                            .ok_or_else(|| format!("bad escape '\\x{h}'"))?;
                        out.push(b);
                    }
                    'r' => out.push(b'\r'),
                    'n' => out.push(b'\n'),
                    't' => out.push(b'\t'),
                    '0' => out.push(0),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    other => return Err(format!("unknown escape '\\{other}'")),
                }
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    Err("unterminated string".into())
}

/// A payload with its cookie patches.
fn payload(name: &'static str, data: Vec<u8>, patches: &[(usize, Field)], echo: Echo) -> Payload {
    Payload {
        name,
        data,
        patches: patches.to_vec(),
        echo,
    }
}

/// A DNS query (RFC 1035 4.1) for `qname` (wire form), type and class.
fn dns_query(qname: &[u8], qtype: u16, qclass: u16) -> Vec<u8> {
    let mut d = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    d.extend_from_slice(qname);
    d.extend_from_slice(&qtype.to_be_bytes());
    d.extend_from_slice(&qclass.to_be_bytes());
    d
}

/// An ONC RPC call (RFC 5531) of the NULL procedure of `program`/`version`, no credentials.
fn rpc_null(program: u32, version: u32) -> Vec<u8> {
    let mut d = Vec::new();
    for w in [0u32, 0, 2, program, version, 0, 0, 0, 0, 0] {
        d.extend_from_slice(&w.to_be_bytes());
    }
    d
}

/// An IKEv1 Main Mode SA proposal (RFC 2408/2409): 3DES, SHA-1, pre-shared key, MODP-1024.
/// Responders echo the initiator SPI (our cookie and its complement), even when refusing.
fn ike(prefix: &[u8]) -> (Vec<u8>, usize) {
    let mut d = prefix.to_vec();
    let spi = d.len();
    d.extend_from_slice(&[0; 16]); // initiator SPI (patched), responder SPI
    d.extend_from_slice(&[1, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 84]);
    d.extend_from_slice(&[0, 0, 0, 56, 0, 0, 0, 1, 0, 0, 0, 1]); // SA: DOI IPsec, identity
    d.extend_from_slice(&[0, 0, 0, 44, 1, 1, 0, 1]); // proposal 1, ISAKMP, 1 transform
    d.extend_from_slice(&[0, 0, 0, 36, 1, 1, 0, 0]); // transform 1, KEY_IKE
    d.extend_from_slice(&[
        0x80, 0x01, 0x00, 0x05, 0x80, 0x02, 0x00, 0x02, 0x80, 0x03, 0x00, 0x01, 0x80, 0x04, 0x00,
        0x02, 0x80, 0x0b, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x70, 0x80,
    ]);
    (d, spi)
}

/// A DTLS 1.2 ClientHello (RFC 6347) in a record whose sequence number carries the cookie:
/// a server's HelloVerifyRequest must reuse it.
fn dtls_client_hello() -> Vec<u8> {
    let mut body = vec![0xfe, 0xfd];
    body.extend((0..32u8).map(|i| i.wrapping_mul(37) ^ 0x5a)); // random
    body.extend_from_slice(&[0, 0]); // session id, cookie
    let suites: [u16; 7] = [0xc02b, 0xc02f, 0xc00a, 0xc014, 0x009c, 0x002f, 0x0035];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // null compression
    let ext: &[u8] = &[
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, // supported groups: P-256
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // EC point formats: uncompressed
        0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x04, 0x01, 0x02, 0x01, // sig algs
    ];
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(ext);
    let n = body.len() as u32;
    let mut hs = vec![1];
    hs.extend_from_slice(&n.to_be_bytes()[1..]);
    hs.extend_from_slice(&[0, 0, 0, 0, 0]); // message_seq, fragment_offset
    hs.extend_from_slice(&n.to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// A QUIC long-header packet of a reserved version (RFC 9000 6, 15): a server answers
/// with Version Negotiation, echoing our connection IDs. Padded to the 1200 bytes servers
/// require of a client's first datagram.
fn quic_version_probe() -> Vec<u8> {
    let mut d = vec![0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8];
    d.extend_from_slice(&[0; 8]); // DCID (patched)
    d.push(8);
    d.extend_from_slice(&[0; 8]); // SCID (patched)
    d.resize(1200, 0);
    d
}

fn text(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Every shipped payload and its ports.
fn shipped() -> Vec<(&'static [u16], Payload)> {
    use Field::*;
    let version_bind = b"\x07version\x04bind\x00";
    let services_local = b"\x09_services\x07_dns-sd\x04_udp\x05local\x00";
    let nbstat_name = {
        let mut n = vec![0x20, b'C', b'K'];
        n.extend_from_slice(&[b'A'; 30]);
        n.push(0);
        n
    };
    let mut nbstat = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    nbstat.extend_from_slice(&nbstat_name);
    nbstat.extend_from_slice(&[0, 0x21, 0, 1]);
    let mut ntp = vec![0u8; 48];
    ntp[0] = 0x23; // version 4, client
    let snmp_v1 = vec![
        0x30, 0x29, 0x02, 0x01, 0x00, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x1c,
        0x02, 0x04, 0, 0, 0, 0, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06,
        0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
    ];
    // The same GetRequest as SNMPv2c (version 1): agents may answer only one of them.
    let mut snmp_v2c = snmp_v1.clone();
    snmp_v2c[4] = 1;
    let snmp_v3 = vec![
        0x30, 0x3e, 0x02, 0x01, 0x03, 0x30, 0x11, 0x02, 0x04, 0, 0, 0, 0, 0x02, 0x03, 0x00, 0xff,
        0xe3, 0x04, 0x01, 0x04, 0x02, 0x01, 0x03, 0x04, 0x10, 0x30, 0x0e, 0x04, 0x00, 0x02, 0x01,
        0x00, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00, 0x04, 0x00, 0x30, 0x14, 0x04, 0x00, 0x04,
        0x00, 0xa0, 0x0e, 0x02, 0x04, 0, 0, 0, 0, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00,
    ];
    let cldap = {
        let mut d = vec![0x30, 0x28, 0x02, 0x04, 0, 0, 0, 0, 0x63, 0x20, 0x04, 0x00];
        d.extend_from_slice(&[0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00]);
        d.extend_from_slice(&[0x02, 0x01, 0x00, 0x01, 0x01, 0x00, 0x87, 0x0b]);
        d.extend_from_slice(b"objectClass");
        d.extend_from_slice(&[0x30, 0x00]);
        d
    };
    let sip = "OPTIONS sip:nm SIP/2.0\r\n\
               Via: SIP/2.0/UDP nm;branch=z9hG4bK00000000;rport\r\n\
               Max-Forwards: 70\r\n\
               To: <sip:nm@nm>\r\n\
               From: <sip:nm@nm>;tag=00000000\r\n\
               Call-ID: 00000000@synscan\r\n\
               CSeq: 42 OPTIONS\r\n\
               Contact: <sip:nm@nm>\r\n\
               Accept: application/sdp\r\n\
               Content-Length: 0\r\n\r\n";
    let call_id = sip.find("Call-ID: ").map_or(0, |i| i + 9);
    let branch = sip.find("z9hG4bK").map_or(0, |i| i + 7);
    let tag = sip.find("tag=").map_or(0, |i| i + 4);
    let wsd = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
xmlns:wsd=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\">\
<soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>\
<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>\
<wsa:MessageID>urn:uuid:00000000-5c5e-4d2e-9a1b-73796e7363616e</wsa:MessageID></soap:Header>\
<soap:Body><wsd:Probe/></soap:Body></soap:Envelope>";
    let wsd_id = wsd.find("urn:uuid:").map_or(0, |i| i + 9);
    let ssdp = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\
                MAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
    let (ike500, spi500) = ike(&[]);
    let (ike4500, spi4500) = ike(&[0, 0, 0, 0]);
    let mut coap = vec![0x44, 0x01, 0, 0, 0, 0, 0, 0, 0xbb];
    coap.extend_from_slice(b".well-known");
    coap.push(0x04);
    coap.extend_from_slice(b"core");
    let mut memcached = vec![0, 0, 0, 0, 0, 1, 0, 0];
    memcached.extend_from_slice(b"version\r\n");
    let mut stun = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[0; 12]);
    let ipmi = vec![
        0x06, 0x00, 0xff, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x20,
        0x18, 0xc8, 0x81, 0x00, 0x38, 0x8e, 0x04, 0xb5,
    ];
    let mut tftp = vec![0, 1];
    tftp.extend_from_slice(b"synscan.txt\0octet\0");
    // P_CONTROL_HARD_RESET_CLIENT_V2, session id (patched), no acks, packet-id 0.
    let openvpn = vec![0x38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    vec![
        (
            &[53][..],
            payload(
                "dns",
                dns_query(version_bind, 16, 3),
                &[(0, Be16)],
                Echo::Dns,
            ),
        ),
        (
            &[5353],
            payload(
                "mdns",
                dns_query(services_local, 12, 1),
                &[(0, Be16)],
                Echo::Dns,
            ),
        ),
        (
            &[7],
            payload(
                "echo",
                vec![0; 8],
                &[(0, Be32), (4, NotBe32)],
                Echo::At(0, Be32),
            ),
        ),
        (&[69], payload("tftp", tftp, &[], Echo::Nothing)),
        (
            &[111],
            payload(
                "rpcbind",
                rpc_null(100_000, 2),
                &[(0, Be32)],
                Echo::At(0, Be32),
            ),
        ),
        (
            &[2049],
            payload("nfs", rpc_null(100_003, 3), &[(0, Be32)], Echo::At(0, Be32)),
        ),
        (
            &[123],
            payload("ntp", ntp, &[(40, Be32), (44, NotBe32)], Echo::Ntp),
        ),
        (
            &[137],
            payload("netbios-ns", nbstat, &[(0, Be16)], Echo::At(0, Be16)),
        ),
        (
            &[161],
            payload("snmp", snmp_v1.clone(), &[(17, Ber32)], Echo::SnmpRequestId),
        ),
        (
            &[161],
            payload("snmpv2c", snmp_v2c, &[(17, Ber32)], Echo::SnmpRequestId),
        ),
        (
            &[161],
            payload(
                "snmpv3",
                snmp_v3,
                &[(9, Ber32), (52, Ber32)],
                Echo::SnmpMsgId,
            ),
        ),
        (
            &[389],
            payload("cldap", cldap, &[(4, Ber32)], Echo::LdapMessageId),
        ),
        (
            &[443],
            payload("dtls", dtls_client_hello(), &[(7, Be32)], Echo::At(7, Be32)),
        ),
        (
            &[443],
            payload(
                "quic",
                quic_version_probe(),
                &[(6, Be32), (10, NotBe32), (15, Be32), (19, NotBe32)],
                Echo::At(6, Be32),
            ),
        ),
        (
            &[500],
            payload(
                "ike",
                ike500,
                &[(spi500, Be32), (spi500 + 4, NotBe32)],
                Echo::At(0, Be32),
            ),
        ),
        (
            &[4500],
            payload(
                "ike-nat-t",
                ike4500,
                &[(spi4500, Be32), (spi4500 + 4, NotBe32)],
                Echo::At(4, Be32),
            ),
        ),
        (&[623], payload("ipmi", ipmi, &[], Echo::Nothing)),
        (
            &[1194],
            payload(
                "openvpn",
                openvpn,
                &[(1, Be32), (5, NotBe32)],
                Echo::Contains(Be32),
            ),
        ),
        (&[1434], payload("ms-sql-m", vec![0x02], &[], Echo::Nothing)),
        (&[1900], payload("ssdp", text(ssdp), &[], Echo::Nothing)),
        (
            &[3478],
            payload(
                "stun",
                stun,
                &[(8, Be32), (12, NotBe32), (16, Be32)],
                Echo::At(8, Be32),
            ),
        ),
        (
            &[3702],
            payload(
                "ws-discovery",
                text(wsd),
                &[(wsd_id, Hex8)],
                Echo::Contains(Hex8),
            ),
        ),
        (&[5351], payload("nat-pmp", vec![0, 0], &[], Echo::Nothing)),
        (
            &[5060],
            payload(
                "sip",
                text(sip),
                &[(call_id, Hex8), (branch, Hex8), (tag, Hex8)],
                Echo::Contains(Hex8),
            ),
        ),
        (
            &[5683],
            payload("coap", coap, &[(2, Be16), (4, Be32)], Echo::At(2, Be16)),
        ),
        (
            &[11211],
            payload("memcached", memcached, &[(0, Be16)], Echo::At(0, Be16)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(port: u16, k: usize, cookie: u32) -> Vec<u8> {
        let all = Payloads::shipped();
        let p = &all.of(port)[k];
        let mut b = vec![0u8; p.data.len()];
        p.write(cookie, &mut b);
        b
    }

    #[test]
    fn ber_templates_are_well_formed_and_carry_the_cookie() {
        let c = 0xdead_beef;
        assert_eq!(snmp_request_id(&sent(161, 0, c)), Some(u64::from(ber32(c))));
        assert_eq!(snmp_request_id(&sent(161, 1, c)), Some(u64::from(ber32(c))));
        assert_eq!(snmp_msg_id(&sent(161, 2, c)), Some(u64::from(ber32(c))));
        assert_eq!(ldap_message_id(&sent(389, 0, c)), Some(u64::from(ber32(c))));
        // The message lengths agree with the bytes.
        for (port, k) in [(161, 0), (161, 1), (161, 2), (389, 0)] {
            let b = sent(port, k, c);
            assert_eq!(usize::from(b[1]) + 2, b.len(), "{port}/{k}");
        }
    }

    #[test]
    fn replies_count_only_with_the_cookie_echoed() {
        let p = Payloads::shipped();
        let c = 0x1234_5678;
        // DNS: a response with our ID, not a query, not another ID.
        let mut dns = sent(53, 0, c);
        assert!(!p.answered_by(53, c, &dns));
        dns[2] |= 0x80;
        assert!(p.answered_by(53, c, &dns));
        assert!(!p.answered_by(53, c ^ 1, &dns));
        // NTP: mode 4 with our transmit timestamp as origin.
        let req = sent(123, 0, c);
        let mut ntp = vec![0u8; 48];
        ntp[0] = 0x24;
        ntp[24..32].copy_from_slice(&req[40..48]);
        assert!(p.answered_by(123, c, &ntp));
        ntp[31] ^= 1;
        assert!(!p.answered_by(123, c, &ntp));
        // SIP: the Call-ID anywhere in the reply.
        let reply = format!("SIP/2.0 200 OK\r\nCall-ID: {:08x}@synscan\r\n\r\n", c);
        assert!(p.answered_by(5060, c, reply.as_bytes()));
        assert!(!p.answered_by(5060, c + 1, reply.as_bytes()));
        // No payload, no field: any datagram.
        assert!(p.answered_by(9999, c, b""));
        // Several payloads: either one's echo.
        let mut vn = vec![0x80, 0, 0, 0, 0, 8];
        vn.extend_from_slice(&sent(443, 1, c)[15..23]);
        assert!(p.answered_by(443, c, &vn));
        assert!(!p.answered_by(443, c + 1, &vn));
    }

    #[test]
    fn the_file_format_parses_and_errors_name_the_line() {
        let mut p = Payloads::default();
        let n = p
            .parse_file(
                "f",
                "# x\n\nudp 9000-9001,9005 \"\\x00\\x01ab\\r\\n\" cookie=0/16 echo=2\n",
            )
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(p.of(9001)[0].data, b"\x00\x01ab\r\n");
        assert_eq!(p.of(9005)[0].echo, Echo::At(2, Field::Be16));
        assert!(p.answered_by(9000, 0xabcd_0102, b"zz\x01\x02"));
        assert!(!p.answered_by(9000, 0xabcd_0102, b"zz\x01\x03"));
        for (bad, want) in [
            ("tcp 1 \"\"", "f:1: a payload line starts with 'udp'"),
            ("udp 1 \"\\xZZ\"", "f:1: bad escape '\\xZZ'"),
            (
                "udp 1 \"ab\" cookie=1/32",
                "f:1: cookie at 1 ends past the payload",
            ),
            ("udp 1 \"ab", "f:1: unterminated string"),
            ("udp 0x \"ab\"", "f:1: ports '0x'"),
            (
                &"udp 7 \"x\"\n".repeat(17),
                "f: port 7 has more than 16 payloads",
            ),
        ] {
            let e = Payloads::default().parse_file("f", bad).unwrap_err();
            assert!(e.starts_with(want), "{bad}: {e}");
        }
    }
}
