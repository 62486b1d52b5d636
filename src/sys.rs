//! The crate's only `unsafe`: thin wrappers over Linux calls that no dependency exposes safely.

#![allow(unsafe_code)]

use std::io;

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft limit, so the
/// connect engine can keep as many sockets open as the system allows.
pub fn raise_nofile_limit() -> io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit struct through a valid pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Ok(lim.rlim_cur)
}

use std::os::fd::{AsRawFd, BorrowedFd};

const SOL_PACKET: libc::c_int = 263;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Asks an AF_PACKET socket not to deliver the frames this host sends (Linux ≥ 4.20), so a
/// receiver on loopback sees each reply once and never its own probes.
pub fn packet_ignore_outgoing(fd: BorrowedFd<'_>) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads one c_int through a valid pointer of the given length.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads and resets an AF_PACKET socket's counters: (frames received, frames dropped).
pub fn packet_statistics(fd: libc::c_int) -> io::Result<(u32, u32)> {
    let mut st = [0u32; 2];
    let mut len = std::mem::size_of_val(&st) as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes (struct tpacket_stats) into `st`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            SOL_PACKET,
            PACKET_STATISTICS,
            st.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok((st[0], st[1]))
    } else {
        Err(io::Error::last_os_error())
    }
}

const PACKET_VERSION: libc::c_int = 10;
const PACKET_TX_RING: libc::c_int = 13;
const PACKET_QDISC_BYPASS: libc::c_int = 20;
const TPACKET_V2: libc::c_int = 1;

fn set_packet_opt<T>(fd: BorrowedFd<'_>, opt: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: setsockopt reads size_of::<T>() bytes through a valid pointer to `val`.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            SOL_PACKET,
            opt,
            (val as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends an AF_PACKET socket's frames straight to the driver, skipping the qdisc layer
/// (Linux ≥ 3.14): a scanner's probes gain nothing from queueing discipline.
pub fn packet_qdisc_bypass(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_packet_opt(fd, PACKET_QDISC_BYPASS, &(1 as libc::c_int))
}

/// Most frames one [`send_frames`] call takes.
pub const MAX_BATCH: usize = 256;

/// Sends up to [`MAX_BATCH`] frames with one `sendmmsg` call on a bound AF_PACKET socket;
/// returns how many the kernel took (a prefix of `frames`).
pub fn send_frames(fd: BorrowedFd<'_>, frames: &[&[u8]]) -> io::Result<usize> {
    let n = frames.len().min(MAX_BATCH);
    // SAFETY: iovec and mmsghdr are plain C structs for which all-zero is a valid value.
    let mut iov: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for (i, f) in frames[..n].iter().enumerate() {
        iov[i].iov_base = f.as_ptr() as *mut libc::c_void;
        iov[i].iov_len = f.len();
        hdrs[i].msg_hdr.msg_iov = &mut iov[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `hdrs[..n]` point at `iov[..n]`, which point at the borrowed frames; all outlive
    // the call, and the kernel only reads them.
    let rc = unsafe { libc::sendmmsg(fd.as_raw_fd(), hdrs.as_mut_ptr(), n as libc::c_uint, 0) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// A PACKET_TX_RING (TPACKET_V2) mapped into our memory: frames are written in place and one
/// `send` hands every queued frame to the kernel.
pub struct TxRing {
    base: *mut u8,
    map_len: usize,
    frame_size: usize,
    frames: usize,
    next: usize,
}

// SAFETY: the mapping is owned by this value alone; moving it to another thread is sound.
unsafe impl Send for TxRing {}

const TP_STATUS_SEND_REQUEST: u32 = 1;
const TP_STATUS_SENDING: u32 = 2;
/// `tpacket2_hdr` (32 bytes) aligned to 16: where a TX frame's data starts in its slot.
const TPACKET2_DATA: usize = 32;

#[repr(C)]
struct TpacketReq {
    block_size: libc::c_uint,
    block_nr: libc::c_uint,
    frame_size: libc::c_uint,
    frame_nr: libc::c_uint,
}

impl TxRing {
    /// Sets TPACKET_V2 and a TX ring of `frames` slots of `frame_size` bytes on `fd` (a bound
    /// AF_PACKET socket), and maps it.
    pub fn new(fd: BorrowedFd<'_>, frame_size: usize, frames: usize) -> io::Result<TxRing> {
        let page = 4096usize;
        let frame_size = frame_size.next_multiple_of(16).max(TPACKET2_DATA + 64);
        let per_block = page / frame_size;
        if per_block == 0 || frames == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad ring geometry",
            ));
        }
        let blocks = frames.div_ceil(per_block);
        let frames = blocks * per_block;
        set_packet_opt(fd, PACKET_VERSION, &TPACKET_V2)?;
        let req = TpacketReq {
            block_size: page as libc::c_uint,
            block_nr: blocks as libc::c_uint,
            frame_size: frame_size as libc::c_uint,
            frame_nr: frames as libc::c_uint,
        };
        set_packet_opt(fd, PACKET_TX_RING, &req)?;
        let map_len = blocks * page;
        // SAFETY: maps the ring the kernel just allocated for this socket; checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(TxRing {
            base: base.cast(),
            map_len,
            frame_size,
            frames,
            next: 0,
        })
    }

    /// Largest frame a slot holds.
    pub fn max_frame(&self) -> usize {
        self.frame_size - TPACKET2_DATA
    }

    fn slot(&self, i: usize) -> *mut u8 {
        // Frames never straddle a page: slot i is in block i / per_block.
        let per_block = 4096 / self.frame_size;
        // SAFETY (pointer arithmetic only): the offset stays inside the mapping.
        unsafe {
            self.base
                .add((i / per_block) * 4096 + (i % per_block) * self.frame_size)
        }
    }

    fn status(&self, i: usize) -> &std::sync::atomic::AtomicU32 {
        // SAFETY: tp_status is the first u32 of each slot header, 4-aligned, shared with the
        // kernel, which only updates it atomically; the mapping lives as long as `self`.
        unsafe { &*(self.slot(i) as *const std::sync::atomic::AtomicU32) }
    }

    /// The next slot's data area if the kernel is done with it, to write a frame of `len`.
    pub fn next_free(&mut self, len: usize) -> Option<&mut [u8]> {
        let len = len.min(self.max_frame());
        let st = self
            .status(self.next)
            .load(std::sync::atomic::Ordering::Acquire);
        if st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING) != 0 {
            return None;
        }
        // SAFETY: the slot is ours (not queued nor sending); the data area of `len` bytes lies
        // within the slot, and the borrow of `self` keeps it exclusive.
        Some(unsafe {
            std::slice::from_raw_parts_mut(self.slot(self.next).add(TPACKET2_DATA), len)
        })
    }

    /// Queues the slot returned by the last [`next_free`](Self::next_free) with `len` bytes.
    pub fn commit(&mut self, len: usize) {
        let p = self.slot(self.next);
        // SAFETY: tp_len and tp_snaplen are the u32s at offsets 4 and 8 of the slot header.
        unsafe {
            p.add(4).cast::<u32>().write_volatile(len as u32);
            p.add(8).cast::<u32>().write_volatile(len as u32);
        }
        self.status(self.next)
            .store(TP_STATUS_SEND_REQUEST, std::sync::atomic::Ordering::Release);
        self.next = (self.next + 1) % self.frames;
    }

    /// Hands every queued frame to the kernel (which sends them in this call).
    pub fn kick(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        // SAFETY: a zero-length send with a null buffer asks the kernel to walk the TX ring.
        let rc = unsafe { libc::send(fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, which nothing borrows any more.
        unsafe {
            libc::munmap(self.base.cast(), self.map_len);
        }
    }
}

/// Binds an AF_PACKET socket to interface `ifindex`; with `receive` false (protocol 0) it can
/// send there and receives nothing, with `receive` true (ETH_P_ALL) it receives every frame
/// its filter passes.
pub fn bind_packet(fd: BorrowedFd<'_>, ifindex: u32, receive: bool) -> io::Result<()> {
    // SAFETY: sockaddr_ll is a plain C struct; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = ifindex as i32;
    if receive {
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    }
    // SAFETY: bind reads one sockaddr_ll of the given length through a valid pointer.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Receives up to `bufs.len()` (at most [`MAX_RECV_BATCH`]) frames with one `recvmmsg` call: blocks
/// for the first (up to the socket's receive timeout), then takes what is already queued.
/// Writes each frame's length (truncated to its buffer) into `lens`; returns the count.
pub fn recv_frames(
    fd: BorrowedFd<'_>,
    bufs: &mut [[u8; RECV_FRAME]],
    lens: &mut [usize],
) -> io::Result<usize> {
    let n = bufs.len().min(lens.len()).min(MAX_RECV_BATCH);
    // SAFETY: iovec and mmsghdr are plain C structs for which all-zero is a valid value.
    let mut iov: [libc::iovec; MAX_RECV_BATCH] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut hdrs: [libc::mmsghdr; MAX_RECV_BATCH] = unsafe { std::mem::zeroed() };
    for (i, b) in bufs[..n].iter_mut().enumerate() {
        iov[i].iov_base = b.as_mut_ptr().cast();
        iov[i].iov_len = b.len();
        hdrs[i].msg_hdr.msg_iov = &mut iov[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `hdrs[..n]` point at `iov[..n]`, which point at distinct buffers we borrow
    // mutably for the call; the kernel writes at most `iov_len` bytes into each.
    let rc = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let got = rc as usize;
    for i in 0..got {
        lens[i] = (hdrs[i].msg_len as usize).min(RECV_FRAME);
    }
    Ok(got)
}

/// Most frames one [`recv_frames`] call takes: replies come in smaller bursts than probes
/// leave, and the buffers stay small (64 × 2 KiB).
pub const MAX_RECV_BATCH: usize = 64;

/// Bytes kept of each received frame: replies to probes are far shorter.
pub const RECV_FRAME: usize = 2048;

/// Turns on IP_RECVERR (IPV6_RECVERR) on a UDP socket: the kernel queues every ICMP error
/// about its datagrams with the ICMP type and code. Without it a connected UDP socket hears
/// only the "hard" errors (port unreachable, prohibited), never net or host unreachable.
pub fn recv_errors(fd: std::os::fd::RawFd, v6: bool) -> io::Result<()> {
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR)
    } else {
        (libc::IPPROTO_IP, libc::IP_RECVERR)
    };
    let one: libc::c_int = 1;
    // SAFETY: a pointer to an int, with its length.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The oldest ICMP (`false`) or ICMPv6 (`true`) error queued on `fd` by
/// [`recv_errors`], as (family, type, code); `None` when nothing is queued.
pub fn queued_icmp(fd: std::os::fd::RawFd) -> Option<(bool, u8, u8)> {
    let mut data = [0u8; 256];
    // u64 words keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 64];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; all zero is an empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the lengths it gives.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    if n < 0 {
        return None;
    }
    // SAFETY: the kernel filled msg_control up to msg_controllen; the CMSG macros walk it
    // within those bounds.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !c.is_null() {
        // SAFETY: c is a header inside the control buffer (checked by FIRSTHDR/NXTHDR).
        let h = unsafe { &*c };
        let v4 = h.cmsg_level == libc::IPPROTO_IP && h.cmsg_type == libc::IP_RECVERR;
        let v6 = h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_RECVERR;
        // SAFETY: arithmetic on a length.
        let head = unsafe { libc::CMSG_LEN(0) } as usize;
        let room = (h.cmsg_len as usize).saturating_sub(head);
        if (v4 || v6) && room >= std::mem::size_of::<libc::sock_extended_err>() {
            // SAFETY: the payload holds a sock_extended_err (its length checked above).
            let e = unsafe {
                std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::sock_extended_err>())
            };
            return match e.ee_origin {
                libc::SO_EE_ORIGIN_ICMP => Some((false, e.ee_type, e.ee_code)),
                libc::SO_EE_ORIGIN_ICMP6 => Some((true, e.ee_type, e.ee_code)),
                _ => None,
            };
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        c = unsafe { libc::CMSG_NXTHDR(&msg, c) };
    }
    None
}
