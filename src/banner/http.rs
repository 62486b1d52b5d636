//! An HTTP response head (and the `<title>` of its body), from untrusted bytes.

use super::HttpInfo;
use super::escape::field;

/// Longest kept header value or title (bytes before escaping).
const FIELD_CAP: usize = 256;

/// The request synscan sends: `GET /` with a Host header, closed after the answer.
pub fn request(host: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: synscan\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The Host header's value for `ip:port` (brackets for IPv6; the port unless default).
pub fn host_header(ip: std::net::IpAddr, port: u16, tls: bool) -> String {
    let host = match ip {
        std::net::IpAddr::V4(a) => a.to_string(),
        std::net::IpAddr::V6(a) => format!("[{a}]"),
    };
    if (tls && port == 443) || (!tls && port == 80) {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// Whether `b` starts like an HTTP response.
pub fn looks_like(b: &[u8]) -> bool {
    b.starts_with(b"HTTP/")
}

/// Whether the head (up to the empty line) has fully arrived.
pub fn head_complete(b: &[u8]) -> bool {
    b.windows(4).any(|w| w == b"\r\n\r\n") || b.windows(2).any(|w| w == b"\n\n")
}

/// The status, Server, Location and title of a response, if `b` is one.
pub fn parse(b: &[u8]) -> Option<HttpInfo> {
    if !looks_like(b) {
        return None;
    }
    let head_end = b
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| b.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
        .unwrap_or(b.len());
    let head = &b[..head_end];
    let mut lines = head.split(|&c| c == b'\n');
    let status_line = lines.next()?;
    let status_line = status_line.strip_suffix(b"\r").unwrap_or(status_line);
    let mut parts = status_line.splitn(3, |&c| c == b' ');
    let _version = parts.next()?;
    let code = parts.next()?;
    let status = std::str::from_utf8(code).ok()?.parse::<u16>().ok()?;
    if !(100..=999).contains(&status) {
        return None;
    }
    let mut info = HttpInfo {
        status,
        status_line: field(status_line, FIELD_CAP),
        ..HttpInfo::default()
    };
    for line in lines {
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"server") && info.server.is_none() {
            info.server = Some(field(value, FIELD_CAP));
        } else if name.eq_ignore_ascii_case(b"location") && info.location.is_none() {
            info.location = Some(field(value, FIELD_CAP));
        }
    }
    info.title = title(&b[head_end..]);
    Some(info)
}

/// The text of the first `<title>` element in `body`.
pub fn title(body: &[u8]) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let mut from = 0;
    let open = loop {
        let at = from + find(&lower[from..], b"<title")?;
        // `<title>` or `<title attr=...>`, not `<titles>`.
        match lower.get(at + 6) {
            Some(b'>' | b' ' | b'\t' | b'\r' | b'\n') => break at,
            _ => from = at + 6,
        }
    };
    let start = open + find(&lower[open..], b">")? + 1;
    let end = find(&lower[start..], b"</title").map_or(lower.len(), |e| start + e);
    let text = field(&body[start..end], FIELD_CAP);
    (!text.is_empty()).then_some(text)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `product` and `version` of a Server header such as `nginx/1.22.1` or
/// `Apache/2.4.57 (Debian)`: the first token, split at its slash; the rest as extra info.
pub fn server_product(server: &str) -> (Option<String>, Option<String>, Option<String>) {
    let server = server.trim();
    let (token, rest) = match server.split_once(' ') {
        Some((t, r)) => (t, Some(r.trim())),
        None => (server, None),
    };
    let (product, version) = match token.split_once('/') {
        Some((p, v)) => (p, Some(v.to_string())),
        None => (token, None),
    };
    if product.is_empty() {
        return (None, None, None);
    }
    let product = match product {
        "Apache" => "Apache httpd",
        "Microsoft-IIS" => "Microsoft IIS httpd",
        "lighttpd" => "lighttpd",
        p => p,
    };
    let extra = rest.filter(|r| !r.is_empty()).map(|r| {
        // `(Debian)` loses its parentheses; `(Unix) OpenSSL/1.1.1` keeps them.
        match r.strip_prefix('(').and_then(|i| i.strip_suffix(')')) {
            Some(inner) if !inner.contains(['(', ')']) => inner.to_string(),
            _ => r.to_string(),
        }
    });
    (Some(product.to_string()), version, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_fields() {
        let r = b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\nLOCATION:  https://x/ \r\n\r\n<html><head><TITLE>\n Moved \x07 here</title>";
        let i = parse(r).expect("http");
        assert_eq!(i.status, 301);
        assert_eq!(i.status_line, "HTTP/1.1 301 Moved Permanently");
        assert_eq!(i.server.as_deref(), Some("nginx/1.22.1"));
        assert_eq!(i.location.as_deref(), Some("https://x/"));
        assert_eq!(i.title.as_deref(), Some("Moved \\x07 here"));
        assert_eq!(parse(b"HTTP/1.0 abc\r\n\r\n"), None);
        assert_eq!(parse(b"SSH-2.0-x\r\n"), None);
        assert_eq!(title(b"<titles>x</titles><title>y"), Some("y".into()));
        assert_eq!(
            server_product("Apache/2.4.57 (Debian)"),
            (
                Some("Apache httpd".into()),
                Some("2.4.57".into()),
                Some("Debian".into())
            )
        );
        assert_eq!(
            host_header("::1".parse().unwrap(), 8443, true),
            "[::1]:8443"
        );
    }
}
