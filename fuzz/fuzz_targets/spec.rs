//! The toolkit's SPEC parser, and building what parses (bounded in size).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = synscan::toolkit::spec::parse(text) {
        if spec.count() <= 64 {
            let d = synscan::toolkit::build::Defaults {
                src_mac: pnet_mac(),
                sport: 40000,
                icmp_id: 1,
                seq: 1,
            };
            for (n, st) in spec.expand().iter().enumerate() {
                let b = synscan::toolkit::build::build_with_source(
                    st,
                    &d,
                    n,
                    std::net::Ipv4Addr::new(10, 0, 0, 1),
                    std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1),
                );
                if b.l2 {
                    let _ = synscan::toolkit::dissect::dissect_frame(&b.bytes);
                } else {
                    let _ = synscan::toolkit::dissect::dissect_ip(&b.bytes);
                }
            }
        }
    }
});

fn pnet_mac() -> synscan::wire::MacAddr {
    synscan::wire::MacAddr::zero()
}
