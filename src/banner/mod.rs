//! Banner grabbing and service identification on open ports (`--banners`, `-sV`).
//!
//! Grabs go through the kernel's TCP stack (a normal `connect()`), never the raw engine, so
//! no RST races the conversation and no firewall rule is needed; the raw engine keeps
//! sending meanwhile. The service is named from what answered (`method: probed`), and from
//! the port table only when nothing identifying came back (`method: table`, `?` in text).

pub mod escape;
pub mod grabber;
pub mod greeting;
pub mod http;
pub mod identify;
pub mod session;
pub mod tls;
pub mod udp;

use serde::{Deserialize, Serialize};

/// How a service name was found, as nmap's XML `method` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// From what the service said.
    Probed,
    /// From the port number alone.
    Table,
}

/// What runs on a port, nmap's `<service>` fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: String,
    pub method: Method,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extrainfo: Option<String>,
    /// `ssl` when the service spoke inside TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<&'static str>,
    /// nmap's confidence: 10 probed, 3 from the table.
    pub conf: u8,
}

/// [`Service`] as read back (`merge`), its tunnel a name of its own.
#[derive(Debug, Deserialize)]
pub struct ServiceRead {
    name: String,
    method: Method,
    product: Option<String>,
    version: Option<String>,
    extrainfo: Option<String>,
    tunnel: Option<String>,
    conf: u8,
}

impl TryFrom<ServiceRead> for Service {
    type Error = String;

    fn try_from(r: ServiceRead) -> Result<Service, String> {
        Ok(Service {
            name: r.name,
            method: r.method,
            product: r.product,
            version: r.version,
            extrainfo: r.extrainfo,
            // The only tunnel written is `ssl`.
            tunnel: match r.tunnel.as_deref() {
                None => None,
                Some("ssl") => Some("ssl"),
                Some(other) => return Err(format!("unknown tunnel '{other}'")),
            },
            conf: r.conf,
        })
    }
}

impl Service {
    /// The port table's name, or `unknown`.
    pub fn from_table(port: u16, proto: crate::event::Proto) -> Service {
        Service {
            name: crate::services::service_name(port, proto)
                .unwrap_or("unknown")
                .to_string(),
            method: Method::Table,
            product: None,
            version: None,
            extrainfo: None,
            tunnel: None,
            conf: 3,
        }
    }

    /// A name found from what answered.
    pub fn probed(name: &str) -> Service {
        Service {
            name: name.to_string(),
            method: Method::Probed,
            product: None,
            version: None,
            extrainfo: None,
            tunnel: None,
            conf: 10,
        }
    }

    /// nmap's SERVICE column: `ssl/http`, or `http?` when only the table named it.
    pub fn column(&self) -> String {
        let mark = if self.method == Method::Table {
            "?"
        } else {
            ""
        };
        match self.tunnel {
            Some(t) => format!("{t}/{}{mark}", self.name),
            None => format!("{}{mark}", self.name),
        }
    }

    /// nmap's VERSION column: product, version, then extra information in parentheses.
    pub fn version_line(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(p) = &self.product {
            parts.push(p.clone());
        }
        if let Some(v) = &self.version {
            parts.push(v.clone());
        }
        if let Some(e) = &self.extrainfo {
            parts.push(format!("({e})"));
        }
        parts.join(" ")
    }
}

/// HTTP response fields, as the server sent them (escaped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpInfo {
    pub status: u16,
    /// The whole status line.
    pub status_line: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A redirect's target, never followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// The leaf certificate a TLS server showed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 of the DER certificate, lowercase hex.
    pub sha256: String,
    pub self_signed: bool,
}

/// What a TLS handshake negotiated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// Reached by STARTTLS (SMTP, IMAP, POP3) on a plain-text service.
    pub starttls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<CertInfo>,
}

/// Everything a grab read, for the `banner` field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Banner {
    /// The SSH identification line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    /// A UDP answer's identifying text (DNS version, SNMP sysDescr, NTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp: Option<String>,
    /// The first bytes the service said, escaped and capped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// Why the grab ended early (timeout, reset, byte cap), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Banner {
    fn is_empty(&self) -> bool {
        *self == Banner::default()
    }
}

/// A port's service and banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub service: Service,
    pub banner: Option<Banner>,
}

impl Identified {
    /// The table's name, nothing grabbed.
    pub fn table(port: u16, proto: crate::event::Proto) -> Identified {
        Identified {
            service: Service::from_table(port, proto),
            banner: None,
        }
    }

    /// `service` with `banner` (dropped when it holds nothing).
    pub fn new(service: Service, banner: Banner) -> Identified {
        Identified {
            service,
            banner: (!banner.is_empty()).then_some(banner),
        }
    }
}

/// The knobs of a grab.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest time one port's whole grab may take (connections, waits, handshakes).
    pub timeout: std::time::Duration,
    /// How long to wait for a service that speaks first before talking to it.
    pub greet_wait: std::time::Duration,
    /// Most grabs at once.
    pub concurrency: usize,
    /// Most bytes read from one port in all (a service sending more is cut off).
    pub max_bytes: usize,
    /// Kept bytes of the raw banner (before escaping).
    pub raw_cap: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: std::time::Duration::from_secs(8),
            greet_wait: std::time::Duration::from_millis(2500),
            concurrency: 64,
            max_bytes: 64 * 1024,
            raw_cap: 256,
        }
    }
}
