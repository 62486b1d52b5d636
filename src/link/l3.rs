//! A layer-3 sender for loopback and for links without a link layer (tun, WireGuard): an
//! IPPROTO_RAW socket (header included, for IPv4 and IPv6 alike) sends the IP packet of a
//! frame through the kernel's normal output path. On loopback this is required: frames
//! injected on `lo` through AF_PACKET have no output route, and the kernel drops those with a
//! 127/8 source as martians (drop reason IP_LOCALNET), as nmap found too. The frames handed
//! in still carry their Ethernet header, which is stripped.

use super::LinkTx;
use crate::wire::ETH_LEN;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

/// Sends the IP payload of Ethernet frames through a raw IP socket.
pub struct L3Sender {
    sock: Socket,
    v6: bool,
    /// Reused for every frame: no allocation per probe.
    buf: Vec<u8>,
}

impl L3Sender {
    /// Opens the raw socket of the family (needs CAP_NET_RAW).
    pub fn open(v6: bool) -> io::Result<L3Sender> {
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let sock = Socket::new(
            domain,
            Type::RAW.cloexec(),
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )?;
        let _ = sock.set_send_buffer_size(4 << 20);
        Ok(L3Sender {
            sock,
            v6,
            buf: Vec::new(),
        })
    }

    fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
        let short = || io::Error::new(io::ErrorKind::InvalidInput, "frame too short");
        let ip = frame.get(ETH_LEN..).ok_or_else(short)?;
        let to = if self.v6 {
            let d = ip.get(24..40).ok_or_else(short)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(d);
            SockAddr::from(SocketAddrV6::new(Ipv6Addr::from(a), 0, 0, 0))
        } else {
            let d = ip.get(16..20).ok_or_else(short)?;
            SockAddr::from(SocketAddrV4::new(Ipv4Addr::new(d[0], d[1], d[2], d[3]), 0))
        };
        for _ in 0..5000 {
            match self.sock.send_to(ip, &to) {
                Ok(_) => return Ok(()),
                Err(e) if super::is_queue_full(&e) => {
                    std::thread::sleep(std::time::Duration::from_micros(100))
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::from_raw_os_error(libc::ENOBUFS))
    }
}

impl LinkTx for L3Sender {
    fn send_batch(
        &mut self,
        n: usize,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(len, 0);
        let mut result = Ok(());
        for _ in 0..n {
            fill(&mut buf);
            result = self.send_frame(&buf);
            if result.is_err() {
                break;
            }
        }
        self.buf = buf;
        result
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.send_frame(frame)
    }
}
