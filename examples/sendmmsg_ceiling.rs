//! The send-rate ceiling for scripts/bench.sh: minimum-size SYN frames sent with `sendmmsg` in
//! batches of 64 on an AF_PACKET socket, with no per-probe work beyond writing each frame's
//! destination address (every frame goes to a different address, as a scan's do).
//! Usage: sendmmsg_ceiling IFACE DST_MAC COUNT [bypass] [noise DST_IP]
//!
//! With `noise DST_IP` every frame is a TCP segment to DST_IP with varying ports, sequence
//! and acknowledgment numbers and flags (tests use it to flood a scanner's receiver).

use std::io;

fn main() {
    if let Err(e) = run() {
        eprintln!("sendmmsg_ceiling: {e}");
        std::process::exit(2);
    }
}

fn run() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
    if args.len() < 4 {
        return Err(bad(
            "usage: sendmmsg_ceiling IFACE DST_MAC COUNT [bypass] [noise DST_IP]",
        ));
    }
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == args[1])
        .ok_or_else(|| bad("no such interface"))?;
    let dst: pnet_datalink::MacAddr = args[2].parse().map_err(|_| bad("bad MAC"))?;
    let count: u64 = args[3].parse().map_err(|_| bad("bad COUNT"))?;
    let noise: Option<std::net::Ipv4Addr> = match args.iter().position(|a| a == "noise") {
        Some(i) => Some(
            args.get(i + 1)
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| bad("noise needs DST_IP"))?,
        ),
        None => None,
    };
    let src = iface.mac.unwrap_or_default();
    // Ethernet + IPv4 + TCP SYN without options, padded to 60 bytes.
    let mut frame = [0u8; 60];
    frame[0..6].copy_from_slice(&dst.octets());
    frame[6..12].copy_from_slice(&src.octets());
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    frame[14..34].copy_from_slice(&[
        0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 201, 4, 1, 10, 128, 0, 1,
    ]);
    frame[34..54].copy_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
    ]);
    // SAFETY: plain socket calls on a socket this function owns; every struct passed is
    // zero-initialised C data that outlives the call.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = iface.index as i32;
        if libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if args.get(4).map(String::as_str) == Some("bypass") {
            let one: libc::c_int = 1;
            libc::setsockopt(fd, 263, 20, (&one as *const libc::c_int).cast(), 4);
        }
        let mut frames = [frame; 64];
        let mut iov: [libc::iovec; 64] = std::mem::zeroed();
        let mut hdrs: [libc::mmsghdr; 64] = std::mem::zeroed();
        for i in 0..64 {
            iov[i].iov_base = frames[i].as_mut_ptr().cast();
            iov[i].iov_len = frame.len();
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        let t0 = std::time::Instant::now();
        let mut sent = 0u64;
        while sent < count {
            let n = (count - sent).min(64) as u32;
            for (i, f) in frames.iter_mut().enumerate() {
                let k = (sent + i as u64) as u32;
                match noise {
                    None => {
                        // 10.128.0.0/9: a different destination for every frame.
                        let host = k & 0x7f_ffff;
                        f[31..34].copy_from_slice(&(host | 0x80_0000).to_be_bytes()[1..]);
                    }
                    Some(dst) => {
                        let x = k.wrapping_mul(2_654_435_761);
                        f[30..34].copy_from_slice(&dst.octets());
                        f[34..36].copy_from_slice(&(x as u16).to_be_bytes());
                        f[36..38].copy_from_slice(&((x >> 16) as u16).to_be_bytes());
                        f[38..42].copy_from_slice(&x.rotate_left(7).to_be_bytes());
                        f[42..46].copy_from_slice(&x.rotate_left(13).to_be_bytes());
                        // SYN-ACK, RST, RST-ACK, ACK in turn.
                        f[47] = [0x12, 0x04, 0x14, 0x10][(k % 4) as usize];
                    }
                }
            }
            let rc = libc::sendmmsg(fd, hdrs.as_mut_ptr(), n, 0);
            if rc > 0 {
                sent += rc as u64;
            } else if t0.elapsed().as_secs() > 60 {
                return Err(io::Error::last_os_error());
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{sent} frames in {secs:.3} s: {:.0} frames/s",
            sent as f64 / secs
        );
        libc::close(fd);
    }
    Ok(())
}
