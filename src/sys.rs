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
