//! Linux fast send paths behind pnet's `DataLinkSender` trait: `build_and_send` fills a whole
//! batch of frames and hands it to the kernel at once, instead of one `poll` + `sendto` per
//! frame. Two ways, measured in docs/benchmarks.md: `sendmmsg` over a batch buffer, and a
//! PACKET_TX_RING written in place. Both set PACKET_QDISC_BYPASS (0.47 → 0.6 M frames/s
//! here); the price is that packet taps skip these frames, so tcpdump on the scanning host
//! does not see the probes (`--pcap` records them, `--send-path pnet` leaves them visible).

use crate::sys;
use pnet::datalink::{DataLinkReceiver, DataLinkSender, NetworkInterface};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// Frames per batch: one `sendmmsg`, or one ring kick.
pub const BATCH: usize = sys::MAX_BATCH;

/// Longest a sender waits for room in a full queue before giving up.
const FULL_QUEUE_LIMIT: Duration = Duration::from_millis(500);

/// Opens a send-only AF_PACKET socket bound to `iface` (it receives nothing: protocol 0 and a
/// drop-all filter), with the qdisc bypassed when `bypass`.
fn send_socket(iface: &NetworkInterface, bypass: bool) -> io::Result<Socket> {
    let sock = Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(Protocol::from(0)))?;
    sock.attach_filter(&super::bpf::drop_all())?;
    let _ = sock.set_recv_buffer_size(4096);
    let _ = sock.set_send_buffer_size(4 << 20);
    sys::bind_packet(sock.as_fd(), iface.index, false)?;
    if bypass {
        // Old kernels lack it; the qdisc path still works.
        let _ = sys::packet_qdisc_bypass(sock.as_fd());
    }
    Ok(sock)
}

/// Opens a `sendmmsg` sender on `iface`.
pub fn open_mmsg(iface: &NetworkInterface, bypass: bool) -> io::Result<MmsgSender> {
    Ok(MmsgSender {
        sock: send_socket(iface, bypass)?,
        buf: Vec::new(),
    })
}

/// Opens a PACKET_TX_RING sender on `iface` (4096 slots of 128 bytes), with a `sendmmsg`
/// sender beside it for frames larger than a slot (UDP payloads).
pub fn open_ring(iface: &NetworkInterface, bypass: bool) -> io::Result<RingSender> {
    let sock = send_socket(iface, bypass)?;
    let ring = sys::TxRing::new(sock.as_fd(), 128, 4096)?;
    let oversize = open_mmsg(iface, bypass)?;
    Ok(RingSender {
        sock,
        ring,
        oversize,
    })
}

/// Waits a moment for room in a full queue. Sleeping, not spinning: the threads draining
/// the queue (the receiver, a local peer's kernel thread) may need this very core.
fn wait_for_room() {
    std::thread::sleep(Duration::from_micros(50));
}

/// Sends batches with `sendmmsg`, retrying the unsent rest while the queue is full.
pub struct MmsgSender {
    sock: Socket,
    buf: Vec<u8>,
}

impl MmsgSender {
    fn send_all(&self, frames: &[&[u8]]) -> io::Result<()> {
        let mut done = 0;
        let mut since: Option<Instant> = None;
        while done < frames.len() {
            match sys::send_frames(self.sock.as_fd(), &frames[done..]) {
                Ok(n) if n > 0 => {
                    done += n;
                    since = None;
                }
                Ok(_) => {}
                Err(e) if super::is_queue_full(&e) => {
                    let t = *since.get_or_insert_with(Instant::now);
                    if t.elapsed() > FULL_QUEUE_LIMIT {
                        return Err(e);
                    }
                    wait_for_room();
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl DataLinkSender for MmsgSender {
    fn build_and_send(
        &mut self,
        num_packets: usize,
        packet_size: usize,
        func: &mut dyn FnMut(&mut [u8]),
    ) -> Option<io::Result<()>> {
        let mut buf = std::mem::take(&mut self.buf);
        let mut left = num_packets;
        let mut result = Ok(());
        while left > 0 && result.is_ok() {
            let n = left.min(BATCH);
            buf.resize(n * packet_size, 0);
            for chunk in buf.chunks_exact_mut(packet_size) {
                func(chunk);
            }
            let mut frames: [&[u8]; BATCH] = [&[]; BATCH];
            for (slot, chunk) in frames.iter_mut().zip(buf.chunks_exact(packet_size)) {
                *slot = chunk;
            }
            result = self.send_all(&frames[..n]);
            left -= n;
        }
        self.buf = buf;
        Some(result)
    }

    fn send_to(&mut self, packet: &[u8], _dst: Option<NetworkInterface>) -> Option<io::Result<()>> {
        Some(self.send_all(&[packet]))
    }
}

/// Writes frames in place into a PACKET_TX_RING and kicks the kernel once per batch.
pub struct RingSender {
    sock: Socket,
    ring: sys::TxRing,
    /// Frames larger than a slot go this way: a send() on a socket with a TX ring only
    /// kicks the ring.
    oversize: MmsgSender,
}

impl RingSender {
    /// Waits for a free slot, kicking the kernel to drain the ring meanwhile.
    fn slot(&mut self, len: usize) -> io::Result<()> {
        let start = Instant::now();
        loop {
            if self.ring.next_free(len).is_some() {
                return Ok(());
            }
            match self.ring.kick(self.sock.as_fd()) {
                Ok(()) => {}
                Err(e) if super::is_queue_full(&e) => {}
                Err(e) => return Err(e),
            }
            if start.elapsed() > FULL_QUEUE_LIMIT {
                return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
            }
            wait_for_room();
        }
    }

    fn kick(&self) -> io::Result<()> {
        let start = Instant::now();
        loop {
            match self.ring.kick(self.sock.as_fd()) {
                Err(e) if super::is_queue_full(&e) && start.elapsed() < FULL_QUEUE_LIMIT => {
                    wait_for_room();
                }
                other => return other,
            }
        }
    }
}

impl DataLinkSender for RingSender {
    fn build_and_send(
        &mut self,
        num_packets: usize,
        packet_size: usize,
        func: &mut dyn FnMut(&mut [u8]),
    ) -> Option<io::Result<()>> {
        if packet_size > self.ring.max_frame() {
            return self.oversize.build_and_send(num_packets, packet_size, func);
        }
        for i in 0..num_packets {
            if let Err(e) = self.slot(packet_size) {
                return Some(Err(e));
            }
            if let Some(buf) = self.ring.next_free(packet_size) {
                func(buf);
            }
            self.ring.commit(packet_size);
            if (i + 1) % BATCH == 0
                && i + 1 < num_packets
                && let Err(e) = self.kick()
            {
                return Some(Err(e));
            }
        }
        Some(self.kick())
    }

    fn send_to(&mut self, packet: &[u8], _dst: Option<NetworkInterface>) -> Option<io::Result<()>> {
        let mut f = |buf: &mut [u8]| buf.copy_from_slice(packet);
        self.build_and_send(1, packet.len(), &mut f)
    }
}

/// Receives frames in batches with `recvmmsg` (one system call per burst of replies instead of
/// a `poll` and a `recvfrom` per frame) and hands them out one by one.
pub struct MmsgReceiver {
    sock: Socket,
    bufs: Box<[[u8; sys::RECV_FRAME]; sys::MAX_RECV_BATCH]>,
    lens: [usize; sys::MAX_RECV_BATCH],
    count: usize,
    next: usize,
}

impl MmsgReceiver {
    /// Binds `sock` (its filter already attached) to `iface` to receive, with `timeout` as the
    /// longest a call to `next` blocks.
    pub fn bind(sock: Socket, iface: &NetworkInterface, timeout: Duration) -> io::Result<Self> {
        sock.set_read_timeout(Some(timeout))?;
        sys::bind_packet(sock.as_fd(), iface.index, true)?;
        Ok(MmsgReceiver {
            sock,
            bufs: Box::new([[0; sys::RECV_FRAME]; sys::MAX_RECV_BATCH]),
            lens: [0; sys::MAX_RECV_BATCH],
            count: 0,
            next: 0,
        })
    }
}

impl DataLinkReceiver for MmsgReceiver {
    fn next(&mut self) -> io::Result<&[u8]> {
        if self.next >= self.count {
            self.count = 0;
            self.next = 0;
            self.count = sys::recv_frames(self.sock.as_fd(), &mut self.bufs[..], &mut self.lens)?;
            if self.count == 0 {
                return Err(io::Error::from(io::ErrorKind::WouldBlock));
            }
        }
        let i = self.next;
        self.next += 1;
        Ok(&self.bufs[i][..self.lens[i]])
    }
}
