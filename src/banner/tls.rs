//! TLS on any port: a rustls handshake that accepts every certificate (a scanner wants to
//! see the certificate, not trust it), what it negotiated, and the leaf certificate's fields.

use super::escape::escape;
use super::{CertInfo, TlsInfo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use std::io::{Read, Write};
use std::sync::Arc;

/// Accepts any certificate and any handshake signature: nothing is trusted or sent.
#[derive(Debug)]
struct AcceptAny(Vec<SignatureScheme>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

/// Client configurations: one offering `h2` and `http/1.1` (to learn the server's ALPN
/// choice), one offering only `http/1.1` (to speak HTTP/1.1 inside).
pub struct Configs {
    pub probe: Arc<ClientConfig>,
    pub http1: Arc<ClientConfig>,
    /// No ALPN (STARTTLS).
    pub plain: Arc<ClientConfig>,
}

impl Configs {
    pub fn new() -> Result<Configs, String> {
        let make = |alpn: &[&[u8]]| -> Result<Arc<ClientConfig>, String> {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let schemes = provider
                .signature_verification_algorithms
                .supported_schemes();
            let mut c = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS configuration: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(schemes)))
                .with_no_client_auth();
            c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Ok(Arc::new(c))
        };
        Ok(Configs {
            probe: make(&[b"h2", b"http/1.1"])?,
            http1: make(&[b"http/1.1"])?,
            plain: make(&[])?,
        })
    }
}

/// Whether `b` starts with a TLS record header (handshake or alert, SSL 3.0 to TLS 1.3).
pub fn is_record(b: &[u8]) -> bool {
    b.len() >= 5 && matches!(b[0], 0x14..=0x17) && b[1] == 3 && b[2] <= 4
}

/// Runs a handshake over `sock` to `ip`; the connection is ready for application data.
pub fn handshake<S: Read + Write>(
    config: Arc<ClientConfig>,
    ip: std::net::IpAddr,
    sock: &mut S,
) -> Result<ClientConnection, String> {
    let name = ServerName::IpAddress(ip.into());
    let mut conn = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
    // Each round trip reads or writes at least one record; the socket's deadline and byte
    // cap bound the whole.
    while conn.is_handshaking() {
        match conn.complete_io(sock) {
            Ok((0, 0)) => return Err("TLS: connection closed during the handshake".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("TLS: {e}")),
        }
    }
    Ok(conn)
}

/// What a finished handshake negotiated, with the leaf certificate.
pub fn info(conn: &ClientConnection, starttls: bool) -> TlsInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => String::new(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|s| cipher_name(s.suite()))
        .unwrap_or_default();
    TlsInfo {
        version,
        cipher,
        alpn: conn.alpn_protocol().map(|p| escape(p, 64)),
        starttls,
        cert: conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|der| cert_info(der.as_ref())),
    }
}

/// The IANA name of a cipher suite (`TLS_AES_256_GCM_SHA384`, `TLS_ECDHE_..._SHA384`).
fn cipher_name(s: rustls::CipherSuite) -> String {
    let name = format!("{s:?}");
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

/// The fields of a DER certificate, if it parses.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    use sha2::Digest;
    use std::fmt::Write;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut sha256 = String::with_capacity(64);
    for b in sha2::Sha256::digest(der).iter() {
        let _ = write!(sha256, "{b:02x}");
    }
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in ext.value.general_names.iter().take(64) {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => {
                    sans.push(format!("DNS:{}", escape(d.as_bytes(), 256)));
                }
                x509_parser::extensions::GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(std::net::IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        sans.push(format!("IP:{ip}"));
                    }
                }
                x509_parser::extensions::GeneralName::RFC822Name(m) => {
                    sans.push(format!("email:{}", escape(m.as_bytes(), 256)));
                }
                _ => {}
            }
        }
    }
    let time = |t: &x509_parser::time::ASN1Time| rfc3339(t.timestamp());
    Some(CertInfo {
        subject: escape(cert.subject().to_string().as_bytes(), 512),
        issuer: escape(cert.issuer().to_string().as_bytes(), 512),
        sans,
        not_before: time(&cert.validity().not_before),
        not_after: time(&cert.validity().not_after),
        sha256,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
    })
}

/// A Unix time as RFC 3339 UTC (`2026-11-30T13:00:00Z`), for any year a certificate holds.
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_garbage() {
        assert!(is_record(b"\x16\x03\x01\x00\x05hello"));
        assert!(is_record(b"\x15\x03\x03\x00\x02\x02\x28"));
        assert!(!is_record(b"HTTP/1.1 400"));
        assert_eq!(cert_info(b"\x30\x03\x02\x01\x00"), None);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_043_600), "2026-11-30T13:00:00Z");
        assert_eq!(rfc3339(-86_400), "1969-12-31T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert!(Configs::new().is_ok());
    }
}
