//! A layer-3 sender behind pnet's `DataLinkSender` trait, for loopback: frames injected on `lo`
//! through AF_PACKET have no output route, and the kernel drops those with a 127/8 source as
//! martians (drop reason IP_LOCALNET). An IPPROTO_RAW socket sends the same IPv4 packet (the
//! frame minus its Ethernet header) through the normal output path, as nmap does on loopback.

use crate::wire::ETH_LEN;
use pnet::datalink::{DataLinkSender, NetworkInterface};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Sends the IPv4 payload of Ethernet frames through a raw IP socket (IP_HDRINCL implied).
pub struct L3Sender {
    sock: Socket,
}

impl L3Sender {
    /// Opens the raw socket (needs CAP_NET_RAW).
    pub fn open() -> io::Result<L3Sender> {
        let sock = Socket::new(
            Domain::IPV4,
            Type::RAW.cloexec(),
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )?;
        let _ = sock.set_send_buffer_size(4 << 20);
        Ok(L3Sender { sock })
    }

    fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
        let ip = frame
            .get(ETH_LEN..)
            .filter(|ip| ip.len() >= 20)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too short"))?;
        let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        self.sock
            .send_to(ip, &SockAddr::from(SocketAddrV4::new(dst, 0)))?;
        Ok(())
    }
}

impl DataLinkSender for L3Sender {
    fn build_and_send(
        &mut self,
        num_packets: usize,
        packet_size: usize,
        func: &mut dyn FnMut(&mut [u8]),
    ) -> Option<io::Result<()>> {
        let mut buf = vec![0u8; packet_size];
        for _ in 0..num_packets {
            func(&mut buf);
            if let Err(e) = self.send_frame(&buf) {
                return Some(Err(e));
            }
        }
        Some(Ok(()))
    }

    fn send_to(&mut self, packet: &[u8], _dst: Option<NetworkInterface>) -> Option<io::Result<()>> {
        Some(self.send_frame(packet))
    }
}
