//! Classic BPF: the instruction type, the small interpreter (`read --filter` runs programs
//! with it, exactly as the kernel would), and the programs attached to our AF_PACKET
//! sockets, so the kernel discards frames we would ignore before they are copied to user
//! space.

use socket2::SockFilter;
use std::net::IpAddr;

/// A classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Constant.
    pub k: u32,
}

/// `ld [k]` (word).
pub const LD_W_ABS: u16 = 0x20;
/// `ldh [k]`.
pub const LD_H_ABS: u16 = 0x28;
/// `ldb [k]`.
pub const LD_B_ABS: u16 = 0x30;
/// `ldh [x + k]`.
pub const LD_H_IND: u16 = 0x48;
/// `ldxb 4*([k]&0xf)`.
pub const LDX_B_MSH: u16 = 0xb1;
/// `and #k`.
pub const ALU_AND_K: u16 = 0x54;
/// `jeq #k`.
pub const JEQ_K: u16 = 0x15;
/// `jgt #k`.
pub const JGT_K: u16 = 0x25;
/// `jge #k`.
pub const JGE_K: u16 = 0x35;
/// `ret #k`.
pub const RET_K: u16 = 0x06;
/// Bytes of a matching frame kept.
pub const ACCEPT: u32 = 0x0004_0000;

/// The program in the form the kernel takes (SO_ATTACH_FILTER).
pub fn to_socket(prog: &[Insn]) -> Vec<SockFilter> {
    prog.iter()
        .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
        .collect()
}

/// Interprets a classic BPF program (the opcodes above) on `pkt`; returns the accepted
/// length, 0 to drop. Loads past the end drop the packet, as in the kernel.
pub fn run(prog: &[Insn], pkt: &[u8]) -> u32 {
    let (mut a, mut x) = (0u32, 0u32);
    let mut pc = 0usize;
    let ld = |off: usize, n: usize| -> Option<u32> {
        let s = pkt.get(off..off.checked_add(n)?)?;
        Some(s.iter().fold(0u32, |v, &b| (v << 8) | b as u32))
    };
    while let Some(i) = prog.get(pc) {
        pc += 1;
        match i.code {
            LD_W_ABS | LD_H_ABS | LD_B_ABS => {
                let n = match i.code {
                    LD_W_ABS => 4,
                    LD_H_ABS => 2,
                    _ => 1,
                };
                match ld(i.k as usize, n) {
                    Some(v) => a = v,
                    None => return 0,
                }
            }
            LD_H_IND => match ld(x as usize + i.k as usize, 2) {
                Some(v) => a = v,
                None => return 0,
            },
            LDX_B_MSH => match ld(i.k as usize, 1) {
                Some(v) => x = 4 * (v & 0xf),
                None => return 0,
            },
            ALU_AND_K => a &= i.k,
            JEQ_K | JGT_K | JGE_K => {
                let taken = match i.code {
                    JEQ_K => a == i.k,
                    JGT_K => a > i.k,
                    _ => a >= i.k,
                };
                pc += if taken { i.jt as usize } else { i.jf as usize };
            }
            RET_K => return i.k,
            _ => return 0,
        }
    }
    0
}

/// Accepts nothing: for the send-only socket.
pub fn drop_all() -> Vec<SockFilter> {
    vec![SockFilter::new(RET_K, 0, 0, 0)]
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

/// One step of a program: a load, or a test that drops the frame or accepts it.
#[derive(Clone, Copy)]
enum Op {
    Load(u16, u32),
    And(u32),
    /// Go on when equal, else drop.
    Require(u32),
    /// Accept when equal, else go on.
    AcceptIf(u32),
}

/// Assembles `ops` followed by "drop" and "accept".
fn assemble(ops: &[Op]) -> Vec<Insn> {
    let n = ops.len();
    let (drop, accept) = (n, n + 1);
    let mut prog: Vec<Insn> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| match *op {
            Op::Load(code, k) => insn(code, 0, 0, k),
            Op::And(k) => insn(ALU_AND_K, 0, 0, k),
            Op::Require(k) => insn(JEQ_K, 0, (drop - i - 1) as u8, k),
            Op::AcceptIf(k) => insn(JEQ_K, (accept - i - 1) as u8, 0, k),
        })
        .collect();
    prog.push(insn(RET_K, 0, 0, 0));
    prog.push(insn(RET_K, 0, 0, ACCEPT));
    prog
}

/// Accepts IP packets to `src` carrying one of `protos` (IPv4 protocol or IPv6 next
/// header), behind an Ethernet header (`ethernet`) or bare (links without a link layer);
/// on Ethernet IPv4 paths, ARP too (for next-hop resolution).
pub fn replies_to(src: IpAddr, protos: &[u8], ethernet: bool) -> Vec<Insn> {
    let l2: u32 = if ethernet { 14 } else { 0 };
    let mut ops = Vec::new();
    match src {
        IpAddr::V4(a) => {
            if ethernet {
                ops.push(Op::Load(LD_H_ABS, 12));
                ops.push(Op::AcceptIf(0x0806));
                ops.push(Op::Require(0x0800));
            } else {
                ops.push(Op::Load(LD_B_ABS, 0));
                ops.push(Op::And(0xf0));
                ops.push(Op::Require(0x40));
            }
            ops.push(Op::Load(LD_W_ABS, l2 + 16));
            ops.push(Op::Require(u32::from(a)));
            ops.push(Op::Load(LD_B_ABS, l2 + 9));
        }
        IpAddr::V6(a) => {
            if ethernet {
                ops.push(Op::Load(LD_H_ABS, 12));
                ops.push(Op::Require(0x86dd));
            } else {
                ops.push(Op::Load(LD_B_ABS, 0));
                ops.push(Op::And(0xf0));
                ops.push(Op::Require(0x60));
            }
            for (i, w) in a.octets().chunks_exact(4).enumerate() {
                ops.push(Op::Load(LD_W_ABS, l2 + 24 + 4 * i as u32));
                ops.push(Op::Require(u32::from_be_bytes([w[0], w[1], w[2], w[3]])));
            }
            ops.push(Op::Load(LD_B_ABS, l2 + 6));
        }
    }
    for &p in protos {
        ops.push(Op::AcceptIf(u32::from(p)));
    }
    assemble(&ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    /// A SYN-ACK 127.0.0.1:22 > 127.0.0.1:40000 on loopback.
    const SYN_ACK: [u8; 54] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0,
        127, 0, 0, 1, 127, 0, 0, 1, 0, 22, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 0, 0, 0,
        0, 0, 0,
    ];

    fn runs(prog: &[Insn], pkt: &[u8]) -> bool {
        run(prog, pkt) != 0
    }

    #[test]
    fn ipv4_and_ipv6_filters() {
        let syn_ack = SYN_ACK;
        let us = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        let p = replies_to(us, &[6, 1], true);
        assert!(runs(&p, &syn_ack));
        assert!(!runs(&replies_to(us, &[17], true), &syn_ack), "not UDP");
        let other = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert!(!runs(&replies_to(other, &[6], true), &syn_ack), "not to us");
        assert!(
            runs(&replies_to(us, &[6], false), &syn_ack[14..]),
            "bare IP"
        );
        // IPv6: the destination is compared word by word.
        let dst: std::net::Ipv6Addr = "fd93::1".parse().unwrap();
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        let mut ip = [0u8; 40];
        crate::wire::ipv6::Repr::new("fd93::2".parse().unwrap(), dst, 6, 64, 0).emit(&mut ip);
        f.extend_from_slice(&ip);
        assert!(runs(&replies_to(IpAddr::V6(dst), &[6, 58], true), &f));
        assert!(!runs(
            &replies_to("fd93::3".parse().unwrap(), &[6], true),
            &f
        ));
        assert!(runs(&replies_to(IpAddr::V6(dst), &[6], false), &f[14..]));
    }
}
