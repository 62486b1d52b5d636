//! `--banners` / `-sV` against real servers from Debian packages in a target namespace
//! (openssh-server, nginx over HTTP and HTTPS, vsftpd, aiosmtpd with STARTTLS, openssl
//! s_server), IMAP and POP3 test servers that offer STARTTLS, and hostile servers. Every
//! field is checked against ground truth read independently of synscan, and nmap -sV names
//! the same services on the same lab.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

const SCANNER: &str = "10.62.0.1";
const TARGET: &str = "10.62.0.2";
/// Every port the real servers listen on.
const REAL_PORTS: &str = "21,22,25,80,110,143,443,2222,4433,9443,9999";
const HOSTILE_PORTS: &str = "7001-7005";

struct BannerLab {
    lab: Lab,
    scan: String,
    target: String,
    dir: tempfile::TempDir,
}

impl BannerLab {
    /// A scanner and a target namespace joined by a veth pair, with a certificate for
    /// lab.test and 10.62.0.2.
    fn new() -> BannerLab {
        let mut lab = Lab::new();
        let scan = lab.netns("c");
        let target = lab.netns("t");
        lab.veth(
            &scan,
            &format!("{SCANNER}/24"),
            &target,
            &format!("{TARGET}/24"),
            "v",
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=lab.test/O=synscan lab"])
            .args([
                "-addext",
                &format!("subjectAltName=DNS:lab.test,IP:{TARGET}"),
            ])
            .arg("-keyout")
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem"))
            .output()
            .expect("openssl req");
        assert!(out.status.success(), "openssl req: {out:?}");
        BannerLab {
            lab,
            scan,
            target,
            dir,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The certificate's SHA-256 fingerprint, as openssl computes it.
    fn cert_sha256(&self) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(self.path("cert.pem"))
            .output()
            .expect("openssl x509");
        let text = String::from_utf8_lossy(&out.stdout);
        let hex = text.trim().rsplit('=').next().expect("fingerprint");
        hex.replace(':', "").to_ascii_lowercase()
    }

    /// Starts the servers from Debian packages.
    fn real_servers(&mut self) {
        let d = self.dir.path().to_path_buf();
        let p = |n: &str| d.join(n).display().to_string();
        // sshd on 22 and 2222.
        let key = p("hostkey");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-t", "ed25519", "-f", &key])
            .output()
            .expect("ssh-keygen");
        assert!(out.status.success(), "{out:?}");
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        std::fs::write(
            p("sshd_config"),
            format!(
                "ListenAddress {TARGET}:22\nListenAddress {TARGET}:2222\nHostKey {key}\nPidFile none\nUsePAM no\n"
            ),
        )
        .expect("sshd_config");
        // nginx: HTTP on 80 and 9999, HTTPS on 443 and on the odd 9443 (a redirect there).
        std::fs::write(
            p("nginx.conf"),
            format!(
                "daemon off;\nmaster_process off;\npid {pid};\nerror_log {err};\nevents {{ worker_connections 64; }}\n\
                 http {{\n access_log off;\n client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};\n\
                 server {{ listen {TARGET}:80; listen {TARGET}:9999; location / {{ default_type text/html; return 200 \"<html><head><title>Lab Home Page</title></head><body>hi</body></html>\"; }} }}\n\
                 server {{ listen {TARGET}:443 ssl; ssl_certificate {cert}; ssl_certificate_key {keyf}; location / {{ default_type text/html; return 200 \"<html><title>Secure Lab</title></html>\"; }} }}\n\
                 server {{ listen {TARGET}:9443 ssl; ssl_certificate {cert}; ssl_certificate_key {keyf}; location / {{ return 301 https://lab.test/; }} }}\n}}\n",
                pid = p("nginx.pid"),
                err = p("nginx.err"),
                tmp = d.display(),
                cert = p("cert.pem"),
                keyf = p("key.pem"),
            ),
        )
        .expect("nginx.conf");
        // vsftpd on 21, anonymous into an empty directory.
        std::fs::create_dir_all(d.join("empty")).expect("empty dir");
        std::fs::write(
            p("vsftpd.conf"),
            format!(
                "listen=YES\nlisten_address={TARGET}\nlisten_port=21\nbackground=NO\nanonymous_enable=YES\nno_anon_password=YES\nanon_root={e}\nlocal_enable=NO\nsecure_chroot_dir={e}\nseccomp_sandbox=NO\n",
                e = p("empty")
            ),
        )
        .expect("vsftpd.conf");
        // aiosmtpd (Debian's python3-aiosmtpd) on 25, offering STARTTLS.
        std::fs::write(
            p("smtp.py"),
            "import ssl, sys, time\n\
             from aiosmtpd.controller import Controller\n\
             from aiosmtpd.handlers import Sink\n\
             ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
             ctx.load_cert_chain(sys.argv[2], sys.argv[3])\n\
             c = Controller(Sink(), hostname=sys.argv[1], port=25, tls_context=ctx, server_hostname='mail.lab.test')\n\
             c.start()\n\
             print('ready', flush=True)\n\
             time.sleep(120)\n",
        )
        .expect("smtp.py");
        let t = self.target.clone();
        let (sshd, nginx, vsftpd, smtp) = (
            p("sshd_config"),
            p("nginx.conf"),
            p("vsftpd.conf"),
            p("smtp.py"),
        );
        let (cert, keyf, err) = (p("cert.pem"), p("key.pem"), p("nginx.err"));
        self.lab
            .spawn_in(&t, &["/usr/sbin/sshd", "-D", "-f", &sshd]);
        self.lab.spawn_in(&t, &["nginx", "-e", &err, "-c", &nginx]);
        self.lab.spawn_in(&t, &["vsftpd", &vsftpd]);
        self.lab.spawn_in(
            &t,
            &[
                "openssl",
                "s_server",
                "-quiet",
                "-accept",
                &format!("{TARGET}:4433"),
                "-cert",
                &cert,
                "-key",
                &keyf,
            ],
        );
        let child = self
            .lab
            .spawn_in(&t, &["/usr/bin/python3", &smtp, TARGET, &cert, &keyf]);
        ready_line(child, "aiosmtpd");
    }

    /// Starts tests/lab/banner_servers.py: `mail` (IMAP and POP3 with STARTTLS) or
    /// `hostile` (7001-7005).
    fn test_servers(&mut self, set: &str) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/banner_servers.py");
        let (cert, key) = (self.path("cert.pem"), self.path("key.pem"));
        let t = self.target.clone();
        let child = self.lab.spawn_in(
            &t,
            &["/usr/bin/python3", script, TARGET, &cert, &key, "120", set],
        );
        ready_line(child, "banner_servers.py");
    }

    /// Waits (at most 10 s) until every port of `ports` listens in the target.
    fn wait_listening(&self, ports: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("ip")
                .args(["netns", "exec", &self.target, "ss", "-Hltn"])
                .output()
                .expect("ss");
            let text = String::from_utf8_lossy(&out.stdout);
            let missing: Vec<u16> = ports
                .iter()
                .copied()
                .filter(|p| !text.contains(&format!("{TARGET}:{p} ")))
                .collect();
            if missing.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "servers not listening on {missing:?}: {text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn synscan(&self, args: &[&str]) -> Output {
        synscan_in(Some(&self.scan), args, b"")
    }

    /// The SSH identification line sshd sends, read with a plain socket.
    fn ssh_ident(&self, port: u16) -> String {
        let script = format!(
            "import socket\ns=socket.create_connection(('{TARGET}',{port}),timeout=5)\nprint(s.recv(512).split(b'\\r\\n')[0].decode())"
        );
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.scan,
                "/usr/bin/python3",
                "-c",
                &script,
            ])
            .output()
            .expect("python3");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn ready_line(child: &mut std::process::Child, what: &str) {
    use std::io::BufRead;
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(out)
        .read_line(&mut line)
        .expect("ready line");
    assert_eq!(line.trim(), "ready", "{what} did not start");
}

fn by_port(out: &Output) -> BTreeMap<u64, Value> {
    out.stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str::<Value>(l).expect("ndjson line"))
        .filter(|v| v["state"] == "open")
        .map(|v| (v["port"].as_u64().expect("port"), v))
        .collect()
}

fn real_port_list() -> Vec<u16> {
    REAL_PORTS
        .split(',')
        .map(|p| p.parse().expect("port"))
        .collect()
}

/// (name, tunnel, method) of each port in nmap's XML.
fn nmap_services(xml: &str) -> BTreeMap<u64, (String, String, String)> {
    let mut m = BTreeMap::new();
    for port in xml.split("<port ").skip(1) {
        let attr = |s: &str, name: &str| {
            s.split(&format!(" {name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string()
        };
        let id: u64 = attr(&format!(" {port}"), "portid").parse().expect("portid");
        let Some(service) = port.split("<service").nth(1) else {
            continue;
        };
        let service = service.split('>').next().unwrap_or("");
        m.insert(
            id,
            (
                attr(service, "name"),
                attr(service, "tunnel"),
                attr(service, "method"),
            ),
        );
    }
    m
}

#[test]
fn banners_name_every_lab_service_exactly_and_nmap_agrees() {
    let mut l = BannerLab::new();
    l.real_servers();
    l.test_servers("mail");
    l.wait_listening(&real_port_list());
    let sha = l.cert_sha256();
    let xml_path = l.path("scan.xml");
    let text_path = l.path("scan.txt");
    let gnmap_path = l.path("scan.gnmap");
    let out = l.synscan(&[
        TARGET,
        "-p",
        "1-10000",
        "--banners",
        "-oJ",
        "-",
        "-oX",
        &xml_path,
        "-oN",
        &text_path,
        "-oG",
        &gnmap_path,
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let ports = by_port(&out);
    let want: Vec<u64> = real_port_list().into_iter().map(u64::from).collect();
    assert_eq!(
        ports.keys().copied().collect::<Vec<_>>(),
        want,
        "open ports: {out:?}"
    );
    let svc = |p: u64| &ports[&p]["service"];
    let ban = |p: u64| &ports[&p]["banner"];
    for p in ports.keys() {
        assert_eq!(svc(*p)["method"], "probed", "{p}: {}", ports[p]);
        assert_eq!(svc(*p)["conf"], 10, "{p}: {}", ports[p]);
    }
    // SSH on 22 and on 2222: the exact identification line.
    for p in [22, 2222] {
        let ident = l.ssh_ident(p as u16);
        assert!(ident.starts_with("SSH-2.0-OpenSSH_"), "{ident}");
        assert_eq!(ban(p)["ssh"], ident.as_str(), "{}", ports[&p]);
        assert_eq!(svc(p)["name"], "ssh");
        assert_eq!(svc(p)["product"], "OpenSSH");
        assert_eq!(svc(p)["extrainfo"], "protocol 2.0");
    }
    // HTTP on 80 and on the odd 9999.
    for p in [80, 9999] {
        assert_eq!(svc(p)["name"], "http", "{}", ports[&p]);
        assert_eq!(svc(p)["product"], "nginx");
        assert_eq!(ban(p)["http"]["status"], 200);
        assert_eq!(ban(p)["http"]["title"], "Lab Home Page");
        let server = ban(p)["http"]["server"].as_str().expect("server");
        assert_eq!(
            Some(server),
            svc(p)["version"]
                .as_str()
                .map(|v| format!("nginx/{v}"))
                .as_deref()
        );
        assert!(ban(p).get("tls").is_none());
    }
    // HTTPS on 443 and the odd 9443: the certificate's fields, then HTTP inside.
    for p in [443, 9443] {
        let s = svc(p);
        assert_eq!(
            (s["name"].as_str(), s["tunnel"].as_str()),
            (Some("http"), Some("ssl")),
            "{}",
            ports[&p]
        );
        assert_eq!(s["product"], "nginx");
        let tls = &ban(p)["tls"];
        assert!(
            tls["version"] == "TLSv1.3" || tls["version"] == "TLSv1.2",
            "{tls}"
        );
        assert!(
            tls["cipher"]
                .as_str()
                .is_some_and(|c| c.starts_with("TLS_"))
        );
        assert_eq!(tls["alpn"], "http/1.1");
        assert_eq!(tls["starttls"], false);
        let cert = &tls["cert"];
        assert_eq!(cert["sha256"], sha.as_str(), "{cert}");
        assert_eq!(cert["subject"], "CN=lab.test, O=synscan lab");
        assert_eq!(cert["issuer"], "CN=lab.test, O=synscan lab");
        assert_eq!(cert["self_signed"], true);
        assert_eq!(
            cert["sans"],
            serde_json::json!(["DNS:lab.test", format!("IP:{TARGET}")])
        );
    }
    assert_eq!(ban(443)["http"]["title"], "Secure Lab");
    assert_eq!(ban(9443)["http"]["status"], 301);
    assert_eq!(ban(9443)["http"]["location"], "https://lab.test/");
    // The bare TLS listener: TLS, nothing known inside.
    assert_eq!(svc(4433)["name"], "ssl");
    assert_eq!(ban(4433)["tls"]["cert"]["sha256"], sha.as_str());
    // FTP, and the mail services upgraded with STARTTLS.
    assert_eq!(svc(21)["name"], "ftp");
    assert_eq!(svc(21)["product"], "vsftpd");
    assert!(
        ban(21)["raw"]
            .as_str()
            .is_some_and(|r| r.starts_with("220 (vsFTPd ")),
        "{}",
        ports[&21]
    );
    for (p, name) in [(25, "smtp"), (143, "imap"), (110, "pop3")] {
        assert_eq!(svc(p)["name"], name, "{}", ports[&p]);
        let tls = &ban(p)["tls"];
        assert_eq!(tls["starttls"], true, "{}", ports[&p]);
        assert_eq!(tls["cert"]["sha256"], sha.as_str(), "{}", ports[&p]);
    }
    assert_eq!(svc(25)["product"], "aiosmtpd");

    // XML: valid against nmap's DTD (but for scanner="synscan", which names the tool), and
    // read by ndiff.
    let xml = std::fs::read_to_string(&xml_path).expect("xml");
    assert!(
        xml.contains(r#"<service name="http" product="nginx" version=""#)
            && xml.contains(r#"tunnel="ssl" method="probed" conf="10"/>"#),
        "{xml}"
    );
    let as_nmap = l.path("as_nmap.xml");
    std::fs::write(
        &as_nmap,
        xml.replace(r#"scanner="synscan""#, r#"scanner="nmap""#),
    )
    .expect("write");
    let v = Command::new("xmllint")
        .args([
            "--noout",
            "--dtdvalid",
            "/usr/share/nmap/nmap.dtd",
            &as_nmap,
        ])
        .output()
        .expect("xmllint");
    assert!(v.status.success(), "xmllint: {v:?}");
    let d = Command::new("ndiff")
        .args([&xml_path, &xml_path])
        .output()
        .expect("ndiff");
    assert!(d.status.code() == Some(0), "ndiff: {d:?}");
    // Text: nmap's SERVICE and VERSION columns.
    let text = std::fs::read_to_string(&text_path).expect("text");
    assert!(
        text.contains("PORT     STATE SERVICE  REASON  VERSION"),
        "{text}"
    );
    let row = |port: &str| {
        text.lines()
            .find(|l| l.starts_with(port))
            .unwrap_or_else(|| panic!("{port} row: {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("9443/tcp")[..5],
        ["9443/tcp", "open", "ssl/http", "syn-ack", "nginx"]
    );
    assert_eq!(
        row("2222/tcp")[..5],
        ["2222/tcp", "open", "ssh", "syn-ack", "OpenSSH"]
    );
    assert_eq!(row("4433/tcp"), ["4433/tcp", "open", "ssl", "syn-ack"]);
    // Grepable, as nmap -sV writes it.
    let gnmap = std::fs::read_to_string(&gnmap_path).expect("gnmap");
    assert!(gnmap.contains("9443/open/tcp//ssl|http//nginx "), "{gnmap}");
    assert!(gnmap.contains("21/open/tcp//ftp//vsftpd "), "{gnmap}");

    // nmap -sV --version-light on the same lab names the same services wherever it probed
    // them; where it fell back to its port table (method="table"), synscan says what
    // answered instead.
    let mut n = Command::new("ip");
    n.args(["netns", "exec", &l.scan, "nmap", "-sV", "--version-light"])
        .args(["-Pn", "-n", "-T4", "-p", REAL_PORTS, "-oX", "-", TARGET]);
    let nmap = run_cmd(n, b"", Duration::from_secs(300));
    assert_eq!(nmap.code, Some(0), "{nmap:?}");
    let theirs = nmap_services(&nmap.stdout);
    assert_eq!(theirs.len(), ports.len(), "{}", nmap.stdout);
    let mut exact = 0;
    for (p, (name, tunnel, method)) in &theirs {
        let s = svc(*p);
        if method == "probed" {
            exact += 1;
            assert_eq!(
                (
                    s["name"].as_str().unwrap_or(""),
                    s["tunnel"].as_str().unwrap_or("")
                ),
                (name.as_str(), tunnel.as_str()),
                "port {p}: nmap says {name}/{tunnel}"
            );
        }
    }
    assert!(exact >= 9, "nmap probed too few: {theirs:?}");

    // Without privilege: the same grabs over connect(), with the one fallback notice.
    let csv = l.path("nobody.csv");
    let un = synscan_as_nobody(&l.scan, &[TARGET, "-p", "22,80,443", "-sV", "-oJ", "-"]);
    assert_eq!(un.code, Some(0), "{un:?}");
    assert_eq!(un.stderr.matches("falling back").count(), 1, "{un:?}");
    let un = by_port(&un);
    assert_eq!(un[&22]["service"]["name"], "ssh");
    assert_eq!(un[&80]["banner"]["http"]["title"], "Lab Home Page");
    assert_eq!(un[&443]["banner"]["tls"]["cert"]["sha256"], sha.as_str());
    let c = l.synscan(&[
        TARGET,
        "-p",
        "21,9443",
        "--banners",
        "--format",
        "csv",
        "-o",
        &csv,
    ]);
    assert_eq!(c.code, Some(0), "{c:?}");
    let csv = std::fs::read_to_string(&csv).expect("csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "ip,hostname,port,proto,state,reason,service,ttl,rtt_ms,method,product,version,extrainfo,tunnel,banner,scan_id,shard,seed,scan_start,source"
        )
    );
    let row9443 = lines
        .clone()
        .find(|l| l.contains(",9443,"))
        .expect("9443 row");
    assert!(
        row9443.contains(",http,")
            && row9443.contains(",probed,nginx,")
            && row9443.contains(",ssl,HTTP/1.1 301 Moved Permanently | 301 Moved Permanently"),
        "{row9443}"
    );
}

#[test]
fn hostile_servers_end_within_the_timeout_in_bounded_memory() {
    let mut l = BannerLab::new();
    l.test_servers("hostile");
    l.wait_listening(&[7001, 7002, 7003, 7004, 7005]);
    let text_path = l.path("hostile.txt");
    let mut c = Command::new("ip");
    c.args([
        "netns",
        "exec",
        &l.scan,
        "/usr/bin/time",
        "-f",
        "maxrss_kb=%M",
        bin(),
    ])
    .args([
        TARGET,
        "-p",
        HOSTILE_PORTS,
        "--banners",
        "--banner-timeout",
        "3s",
    ])
    .args(["-oJ", "-", "-oN", &text_path]);
    let started = Instant::now();
    let out = run_cmd(c, b"", Duration::from_secs(60));
    let took = started.elapsed();
    assert_eq!(out.code, Some(0), "{out:?}");
    // Each grab is bounded by its 3 s; they run at once.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let rss: u64 = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .expect("GNU time's maxrss");
    // A 100 MB banner is cut at the byte cap: memory stays that of a small scan.
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB");
    let ports = by_port(&out);
    assert_eq!(ports.len(), 5, "{out:?}");
    for (p, v) in &ports {
        // Nothing from these servers names a service: the table's name, marked so.
        let raw = v["banner"]["raw"].as_str().unwrap_or("");
        assert!(
            raw.len() <= 256 * 4 + 3 && raw.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{p}: raw not escaped or capped: {v}"
        );
        if *p == 7004 {
            continue;
        }
        assert_eq!(v["service"]["method"], "table", "{p}: {v}");
    }
    let err = |p: u64| {
        ports[&p]["banner"]["error"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(err(7001), "timed out", "{}", ports[&7001]);
    assert_eq!(err(7002), "byte cap reached", "{}", ports[&7002]);
    assert!(
        ports[&7002]["banner"]["raw"]
            .as_str()
            .is_some_and(|r| r.starts_with("AAAA") && r.ends_with("...")),
        "{}",
        ports[&7002]
    );
    assert!(
        ports[&7003]["banner"]["raw"]
            .as_str()
            .is_some_and(|r| r.contains("\\x")),
        "{}",
        ports[&7003]
    );
    // A broken TLS record: it speaks TLS, and the handshake failed.
    assert_eq!(ports[&7004]["service"]["name"], "ssl", "{}", ports[&7004]);
    assert!(err(7004).starts_with("TLS: "), "{}", ports[&7004]);
    assert_eq!(err(7005), "timed out", "{}", ports[&7005]);
    // The text output marks names known only from the port table with `?`.
    let text = std::fs::read_to_string(&text_path).expect("text");
    let row = text
        .lines()
        .find(|l| l.starts_with("7005/tcp"))
        .expect("7005 row");
    assert!(
        row.split_whitespace()
            .nth(2)
            .is_some_and(|s| s.ends_with('?')),
        "{row}"
    );
}
