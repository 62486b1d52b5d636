//! UDP answers and payload files: every reply check of every shipped payload (DNS, NTP,
//! SNMP and LDAP BER, echoed fields) on arbitrary bytes, and the `--udp-payload-file` parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use synscan::probe::Payloads;

static SHIPPED: std::sync::OnceLock<Payloads> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let shipped = SHIPPED.get_or_init(Payloads::shipped);
    let cookie = data
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let reply = data.get(4..).unwrap_or(&[]);
    for port in [7, 53, 111, 123, 137, 161, 389, 443, 500, 1194, 3478, 3702, 4500, 5060, 5683] {
        let _ = shipped.answered_by(port, cookie, reply);
    }
    let _ = synscan::probe::udp_payloads::snmp_request_id(reply);
    let _ = synscan::probe::udp_payloads::snmp_msg_id(reply);
    let _ = synscan::probe::udp_payloads::ldap_message_id(reply);
    if let Ok(text) = std::str::from_utf8(data) {
        let mut p = Payloads::default();
        if p.parse_file("fuzz", text).is_ok() {
            for port in [0, 1, 53, 65535] {
                for k in 0..p.count(port) {
                    let n = p.len_of(port, k);
                    if let Some(pl) = p.of(port).get(k) {
                        let mut out = vec![0u8; n];
                        pl.write(cookie, &mut out);
                        let _ = pl.answered_by(cookie, &out);
                    }
                }
            }
        }
    }
});
