//! Raw datalink channels (pnet_datalink over AF_PACKET), opened for a scanner: promiscuous
//! mode off, a read timeout so threads see their stop flag, and kernel BPF filters so the
//! receiver only wakes for IPv4 TCP/ICMP addressed to us and ARP, while the send socket
//! receives nothing at all. The engine sees pnet's `DataLinkSender`/`DataLinkReceiver`
//! traits, so tests can drive it with `pnet_datalink::dummy`.

mod bpf;
mod fast;
mod l3;

pub use fast::{BATCH as MAX_BATCH, MmsgReceiver, MmsgSender, RingSender, open_mmsg, open_ring};
pub use l3::L3Sender;

use crate::error::{Error, Result};
use crate::sys;
use pnet::datalink::{self, Channel, Config, DataLinkReceiver, DataLinkSender, NetworkInterface};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, IntoRawFd, RawFd};
use std::time::Duration;

/// How long a receiver blocks before it checks for stop.
pub const READ_TIMEOUT: Duration = Duration::from_millis(10);

/// The channels of one scan.
pub struct Channels {
    /// Sends probes (the sender thread owns it).
    pub tx: Box<dyn DataLinkSender>,
    /// Receives replies (the receiver thread owns it).
    pub rx: Box<dyn DataLinkReceiver>,
    /// Sends the RSTs that follow SYN-ACKs and ARP requests (owned by the receiver).
    pub reply_tx: Box<dyn DataLinkSender>,
    /// The receive socket, for PACKET_STATISTICS (`None` for fake channels).
    pub rx_fd: Option<RawFd>,
    /// Frames `tx` takes per `build_and_send` call (1: send one by one with `send_to`).
    pub tx_batch: usize,
}

/// How probes leave on an Ethernet link (loopback always uses a raw IPv4 socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendPath {
    /// pnet_datalink's portable channels: one `sendto` per frame, one `poll` and `recvfrom`
    /// per reply.
    Pnet,
    /// `sendmmsg` batches on AF_PACKET, qdisc (and packet taps) bypassed; replies read with
    /// `recvmmsg`.
    #[default]
    Mmsg,
    /// PACKET_TX_RING, written in place and kicked once per batch, qdisc bypassed; replies
    /// read with `recvmmsg`.
    Ring,
}

impl SendPath {
    /// The name [`SendPath::parse`] takes.
    pub fn as_str(self) -> &'static str {
        match self {
            SendPath::Pnet => "pnet",
            SendPath::Mmsg => "mmsg",
            SendPath::Ring => "ring",
        }
    }

    /// Parses `pnet`, `mmsg` or `ring`.
    pub fn parse(s: &str) -> Option<SendPath> {
        match s {
            "pnet" => Some(SendPath::Pnet),
            "mmsg" => Some(SendPath::Mmsg),
            "ring" => Some(SendPath::Ring),
            _ => None,
        }
    }
}

/// Opens the send and receive channels on `iface` for replies to `src`; on loopback the
/// senders are layer-3 raw sockets (see [`L3Sender`]). Needs CAP_NET_RAW in the effective set.
pub fn open(
    iface: &NetworkInterface,
    src: Ipv4Addr,
    loopback: bool,
    path: SendPath,
) -> Result<Channels> {
    let ctx = |what: &str| format!("{what} on {}", iface.name);
    let l3 = || -> Result<Box<dyn DataLinkSender>> {
        Ok(Box::new(
            L3Sender::open().map_err(|e| Error::io(ctx("open raw IPv4 socket"), e))?,
        ))
    };
    let (tx, tx_batch): (Box<dyn DataLinkSender>, usize) = match path {
        _ if loopback => (l3()?, 1),
        SendPath::Pnet => {
            // Protocol 0: the socket receives nothing until pnet binds it, after the filter is on.
            let sock = Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(Protocol::from(0)))
                .map_err(|e| Error::io(ctx("open AF_PACKET socket"), e))?;
            sock.attach_filter(&bpf::drop_all())
                .map_err(|e| Error::io(ctx("attach BPF filter"), e))?;
            let _ = sock.set_recv_buffer_size(4096);
            let _ = sock.set_send_buffer_size(4 << 20);
            (channel(iface, sock, &ctx)?.0, 1)
        }
        SendPath::Mmsg => {
            let s = fast::open_mmsg(iface, true)
                .map_err(|e| Error::io(ctx("open sendmmsg socket"), e))?;
            (Box::new(s), MAX_BATCH)
        }
        SendPath::Ring => {
            let s = fast::open_ring(iface, true)
                .map_err(|e| Error::io(ctx("open PACKET_TX_RING"), e))?;
            (Box::new(s), MAX_BATCH)
        }
    };

    let rx_sock = Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(Protocol::from(0)))
        .map_err(|e| Error::io(ctx("open AF_PACKET socket"), e))?;
    rx_sock
        .attach_filter(&bpf::replies_to(src))
        .map_err(|e| Error::io(ctx("attach BPF filter"), e))?;
    sys::packet_ignore_outgoing(rx_sock.as_fd())
        .map_err(|e| Error::io(ctx("set PACKET_IGNORE_OUTGOING"), e))?;
    let _ = rx_sock.set_recv_buffer_size(32 << 20);
    let (reply_tx, rx, rx_fd): (Box<dyn DataLinkSender>, Box<dyn DataLinkReceiver>, RawFd) =
        if path == SendPath::Pnet {
            let (t, (r, fd)) = channel_with_fd(iface, rx_sock, &ctx)?;
            (t, r, fd)
        } else {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&rx_sock);
            let rx = fast::MmsgReceiver::bind(rx_sock, iface, READ_TIMEOUT)
                .map_err(|e| Error::io(ctx("bind receive socket"), e))?;
            let reply = fast::open_mmsg(iface, true)
                .map_err(|e| Error::io(ctx("open sendmmsg socket"), e))?;
            (Box::new(reply), Box::new(rx), fd)
        };
    let reply_tx = if loopback { l3()? } else { reply_tx };
    Ok(Channels {
        tx,
        rx,
        reply_tx,
        rx_fd: Some(rx_fd),
        tx_batch,
    })
}

fn config(fd: RawFd) -> Config {
    Config {
        read_timeout: Some(READ_TIMEOUT),
        write_timeout: Some(Duration::from_secs(1)),
        read_buffer_size: 65536,
        write_buffer_size: 65536,
        promiscuous: false,
        socket_fd: Some(fd),
        ..Config::default()
    }
}

type Pair = (Box<dyn DataLinkSender>, Box<dyn DataLinkReceiver>);

fn channel(iface: &NetworkInterface, sock: Socket, ctx: &dyn Fn(&str) -> String) -> Result<Pair> {
    let fd = sock.into_raw_fd();
    match datalink::channel(iface, config(fd)) {
        Ok(Channel::Ethernet(tx, rx)) => Ok((tx, rx)),
        Ok(_) => Err(Error::Runtime(ctx("unsupported channel type"))),
        Err(e) => Err(Error::io(ctx("open datalink channel"), e)),
    }
}

type WithFd = (Box<dyn DataLinkSender>, (Box<dyn DataLinkReceiver>, RawFd));

fn channel_with_fd(
    iface: &NetworkInterface,
    sock: Socket,
    ctx: &dyn Fn(&str) -> String,
) -> Result<WithFd> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
    let (tx, rx) = channel(iface, sock, ctx)?;
    Ok((tx, (rx, fd)))
}

/// True for a receive "error" that only means nothing arrived in time: the read timeout
/// that lets a receiver check its stop flag, or an interrupted call.
pub fn is_idle(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
    matches!(e.kind(), TimedOut | Interrupted | WouldBlock)
}

/// True for a send error that only means "the queue is full, try again shortly".
pub fn is_queue_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::EAGAIN))
        || e.kind() == std::io::ErrorKind::Interrupted
}

/// Frames the kernel dropped on the receive socket since the last call (PACKET_STATISTICS).
pub fn kernel_drops(fd: RawFd) -> Option<u64> {
    sys::packet_statistics(fd)
        .ok()
        .map(|(_, drops)| drops as u64)
}

/// Opens a receive-only channel on `iface` running the classic BPF `program` in the kernel.
/// `ignore_outgoing` hides frames this host sends (on loopback every frame would otherwise be
/// seen twice; tcpdump hides those copies too). Needs CAP_NET_RAW.
pub fn open_receiver(
    iface: &NetworkInterface,
    program: &[socket2::SockFilter],
    ignore_outgoing: bool,
) -> Result<(Box<dyn DataLinkReceiver>, RawFd)> {
    let ctx = |what: &str| format!("{what} on {}", iface.name);
    let sock = Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(Protocol::from(0)))
        .map_err(|e| Error::io(ctx("open AF_PACKET socket"), e))?;
    sock.attach_filter(program)
        .map_err(|e| Error::io(ctx("attach BPF filter"), e))?;
    if ignore_outgoing {
        sys::packet_ignore_outgoing(sock.as_fd())
            .map_err(|e| Error::io(ctx("set PACKET_IGNORE_OUTGOING"), e))?;
    }
    let _ = sock.set_recv_buffer_size(32 << 20);
    let (_, (rx, fd)) = channel_with_fd(iface, sock, &ctx)?;
    Ok((rx, fd))
}

/// Opens a send-only datalink channel on `iface` (it receives nothing). Needs CAP_NET_RAW.
pub fn open_sender(iface: &NetworkInterface) -> Result<Box<dyn DataLinkSender>> {
    let ctx = |what: &str| format!("{what} on {}", iface.name);
    let sock = Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(Protocol::from(0)))
        .map_err(|e| Error::io(ctx("open AF_PACKET socket"), e))?;
    sock.attach_filter(&bpf::drop_all())
        .map_err(|e| Error::io(ctx("attach BPF filter"), e))?;
    let _ = sock.set_recv_buffer_size(4096);
    Ok(channel(iface, sock, &ctx)?.0)
}
