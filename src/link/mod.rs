//! Links: how frames leave and arrive, behind two small traits the engine is generic over
//! ([`LinkTx`]: send a batch, [`LinkRx`]: receive with a timeout, report kernel drops), after
//! trippy's `Network`. Implementations: pnet_datalink's portable channels, the Linux fast
//! paths (`sendmmsg`, PACKET_TX_RING, `recvmmsg`), raw IP sockets for loopback and links
//! without a link layer (tun, WireGuard), and an in-memory [`fake`] link that unit tests
//! drive with no socket at all.
//!
//! Sockets are opened for a scanner: promiscuous mode off, a read timeout so threads see
//! their stop flag, and kernel BPF filters so the receiver only wakes for what its probe
//! module answers to, while send sockets receive nothing at all.

pub mod bpf;
pub mod fake;
mod fast;
mod l3;

pub use fast::{BATCH as MAX_BATCH, MmsgReceiver, MmsgSender, RingSender, open_mmsg, open_ring};
pub use l3::L3Sender;

use crate::error::{Error, Result};
use crate::route::{LinkKind, Path};
use crate::sys;
use pnet::datalink::{self, Channel, Config, DataLinkReceiver, DataLinkSender, NetworkInterface};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::os::fd::{AsFd, IntoRawFd, RawFd};
use std::time::Duration;

/// How long a receiver blocks before it checks for stop.
pub const READ_TIMEOUT: Duration = Duration::from_millis(10);

/// Sends frames.
pub trait LinkTx: Send {
    /// Frames one [`LinkTx::send_batch`] call takes at most to the kernel at once (1: one
    /// system call per frame).
    fn batch(&self) -> usize {
        1
    }
    /// Sends `n` frames of `len` bytes, each written in place by `fill`, waiting briefly while
    /// the queue is full.
    fn send_batch(
        &mut self,
        n: usize,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> io::Result<()>;
    /// Sends one frame.
    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        let mut f = |b: &mut [u8]| b.copy_from_slice(frame);
        self.send_batch(1, frame.len(), &mut f)
    }
}

/// Receives frames.
pub trait LinkRx: Send {
    /// The next frame, or `None` when nothing arrived within [`READ_TIMEOUT`].
    fn recv(&mut self) -> io::Result<Option<&[u8]>>;
    /// Frames the kernel dropped since the last call, when known.
    fn drops(&mut self) -> Option<u64> {
        None
    }
}

/// How received frames begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// With an Ethernet header (Ethernet links; loopback, with zero MACs).
    Ethernet,
    /// With the IP header (links without a link layer).
    Ip,
}

/// The channels of one scan.
pub struct Channels {
    /// Sends probes (the sender thread owns it).
    pub tx: Box<dyn LinkTx>,
    /// Receives replies (the receiver thread owns it).
    pub rx: Box<dyn LinkRx>,
    /// Sends follow-ups (RSTs) and neighbour solicitations (owned by the receiver).
    pub reply: Box<dyn LinkTx>,
    /// How frames arrive on `rx`.
    pub framing: Framing,
}

/// How probes leave on an Ethernet link (loopback and links without a link layer always use
/// raw IP sockets).
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

/// pnet's `DataLinkSender` (the portable channel, or a fast path behind the same trait).
pub struct Datalink {
    inner: Box<dyn DataLinkSender>,
    batch: usize,
}

impl Datalink {
    /// Wraps a sender that takes `batch` frames per `build_and_send`.
    pub fn new(inner: Box<dyn DataLinkSender>, batch: usize) -> Datalink {
        Datalink {
            inner,
            batch: batch.max(1),
        }
    }
}

/// Sends one frame through `tx`, waiting briefly while its queue is full.
fn send_retrying(tx: &mut dyn DataLinkSender, frame: &[u8]) -> io::Result<()> {
    for _ in 0..5000 {
        match tx.send_to(frame, None) {
            None | Some(Ok(())) => return Ok(()),
            Some(Err(e)) if is_queue_full(&e) || e.kind() == io::ErrorKind::TimedOut => {
                std::thread::sleep(Duration::from_micros(100))
            }
            Some(Err(e)) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENOBUFS))
}

impl LinkTx for Datalink {
    fn batch(&self) -> usize {
        self.batch
    }

    fn send_batch(
        &mut self,
        n: usize,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> io::Result<()> {
        if self.batch == 1 {
            let mut buf = vec![0u8; len];
            for _ in 0..n {
                fill(&mut buf);
                send_retrying(self.inner.as_mut(), &buf)?;
            }
            return Ok(());
        }
        match self.inner.build_and_send(n, len, fill) {
            None | Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(e),
        }
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        send_retrying(self.inner.as_mut(), frame)
    }
}

/// pnet's `DataLinkReceiver` (or the `recvmmsg` receiver), with its socket for drop counts.
pub struct DatalinkRx {
    inner: Box<dyn DataLinkReceiver>,
    fd: Option<RawFd>,
}

impl LinkRx for DatalinkRx {
    fn recv(&mut self) -> io::Result<Option<&[u8]>> {
        match self.inner.next() {
            Ok(f) => Ok(Some(f)),
            Err(e) if is_idle(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn drops(&mut self) -> Option<u64> {
        self.fd.and_then(kernel_drops)
    }
}

/// Opens the channels of `path` for a probe module whose answers come in `protos`: on
/// Ethernet the chosen send path; on loopback and links without a link layer, raw IP
/// sockets. Needs CAP_NET_RAW in the effective set.
pub fn open(path: &Path, protos: &[u8], send_path: SendPath) -> Result<Channels> {
    let iface = &path.iface;
    let ctx = |what: &str| format!("{what} on {}", iface.name);
    let l3 = |what: &str| -> Result<Box<dyn LinkTx>> {
        Ok(Box::new(
            L3Sender::open(path.src.is_ipv6()).map_err(|e| Error::io(ctx(what), e))?,
        ))
    };
    let framing = match path.kind {
        LinkKind::None(_) => Framing::Ip,
        _ => Framing::Ethernet,
    };
    let raw_ip = path.kind != LinkKind::Ethernet;
    let tx: Box<dyn LinkTx> = match send_path {
        _ if raw_ip => l3("open raw IP socket")?,
        SendPath::Pnet => {
            // Protocol 0: the socket receives nothing until pnet binds it, after the filter is on.
            let sock = Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(Protocol::from(0)))
                .map_err(|e| Error::io(ctx("open AF_PACKET socket"), e))?;
            sock.attach_filter(&bpf::drop_all())
                .map_err(|e| Error::io(ctx("attach BPF filter"), e))?;
            let _ = sock.set_recv_buffer_size(4096);
            let _ = sock.set_send_buffer_size(4 << 20);
            Box::new(Datalink::new(channel(iface, sock, &ctx)?.0, 1))
        }
        SendPath::Mmsg => {
            let s = fast::open_mmsg(iface, true)
                .map_err(|e| Error::io(ctx("open sendmmsg socket"), e))?;
            Box::new(Datalink::new(Box::new(s), MAX_BATCH))
        }
        SendPath::Ring => {
            let s = fast::open_ring(iface, true)
                .map_err(|e| Error::io(ctx("open PACKET_TX_RING"), e))?;
            Box::new(Datalink::new(Box::new(s), MAX_BATCH))
        }
    };

    let rx_sock = Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(Protocol::from(0)))
        .map_err(|e| Error::io(ctx("open AF_PACKET socket"), e))?;
    let filter = bpf::replies_to(path.src, protos, framing == Framing::Ethernet);
    rx_sock
        .attach_filter(&bpf::to_socket(&filter))
        .map_err(|e| Error::io(ctx("attach BPF filter"), e))?;
    sys::packet_ignore_outgoing(rx_sock.as_fd())
        .map_err(|e| Error::io(ctx("set PACKET_IGNORE_OUTGOING"), e))?;
    let _ = rx_sock.set_recv_buffer_size(32 << 20);
    let (reply, rx, rx_fd): (Box<dyn LinkTx>, Box<dyn DataLinkReceiver>, RawFd) =
        if send_path == SendPath::Pnet {
            let (t, (r, fd)) = channel_with_fd(iface, rx_sock, &ctx)?;
            (Box::new(Datalink::new(t, 1)), r, fd)
        } else {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&rx_sock);
            let rx = fast::MmsgReceiver::bind(rx_sock, iface, READ_TIMEOUT)
                .map_err(|e| Error::io(ctx("bind receive socket"), e))?;
            let reply: Box<dyn LinkTx> = if raw_ip {
                l3("open raw IP socket")?
            } else {
                let s = fast::open_mmsg(iface, true)
                    .map_err(|e| Error::io(ctx("open sendmmsg socket"), e))?;
                Box::new(Datalink::new(Box::new(s), 1))
            };
            (reply, Box::new(rx), fd)
        };
    let reply = if raw_ip {
        l3("open raw IP socket")?
    } else {
        reply
    };
    Ok(Channels {
        tx,
        rx: Box::new(DatalinkRx {
            inner: rx,
            fd: Some(rx_fd),
        }),
        reply,
        framing,
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
pub fn is_idle(e: &io::Error) -> bool {
    use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
    matches!(e.kind(), TimedOut | Interrupted | WouldBlock)
}

/// True for a send error that only means "the queue is full, try again shortly".
pub fn is_queue_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::EAGAIN))
        || e.kind() == io::ErrorKind::Interrupted
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
