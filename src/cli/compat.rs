//! nmap's and masscan's spellings: multi-letter short flags (`-sS`, `-oX`, `-p-`, `-oA`, `-v3`)
//! rewritten to the long flags clap knows, and the flags synscan lacks named in one line with
//! what to use instead, before clap sees them (clap would say "unexpected argument", or worse,
//! read `-oA out` as `-o A` plus a target). Only whole tokens before a `--` are looked at.

use std::ffi::OsString;

/// Rewrites nmap's spellings in `argv` (program name first), or says in one line which
/// flag synscan does not support and what to use instead.
pub fn normalize(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut passthrough = false;
    let mut skip_value = false;
    for (i, a) in argv.into_iter().enumerate() {
        let Some(s) = a.to_str().filter(|_| !passthrough && i > 0) else {
            out.push(a);
            continue;
        };
        if s == "--" {
            passthrough = true;
            out.push(a);
            continue;
        }
        if let Some(why) = unsupported(s) {
            return Err(why);
        }
        // nmap's -sV intensity knobs: synscan has one way of grabbing, so they change nothing.
        if skip_value {
            skip_value = false;
            if s.parse::<u8>().is_ok() {
                continue;
            }
        }
        if s == "--version-light" || s == "--version-all" || s.starts_with("--version-intensity=") {
            continue;
        }
        if s == "--version-intensity" {
            skip_value = true;
            continue;
        }
        // -sU, -sV, and -sSU / -sTU / -sSV / -sSUV (a TCP technique, UDP, banners).
        if let Some(letters) = s
            .strip_prefix("-s")
            .filter(|l| !l.is_empty() && l.len() <= 3 && l.chars().all(|c| "STUV".contains(c)))
        {
            for c in letters.chars() {
                out.push(OsString::from(match c {
                    'S' => "--scan-type=syn",
                    'T' => "--scan-type=connect",
                    'V' if out.iter().any(|o: &OsString| o == "--banners") => continue,
                    'V' => "--banners",
                    _ => "--udp",
                }));
            }
            continue;
        }
        if s == "--banners" && out.iter().any(|o| o == "--banners") {
            continue;
        }
        match rewrite(s) {
            Some(r) => out.push(OsString::from(r)),
            None => out.push(a),
        }
    }
    Ok(out)
}

/// The long spelling of an nmap short flag, if `s` is one.
fn rewrite(s: &str) -> Option<String> {
    let long = match s {
        "-sT" => "--scan-type=connect",
        "-sS" => "--scan-type=syn",
        "-iL" => "--input-list",
        "-oN" => "--output-normal",
        "-oJ" => "--output-ndjson",
        "-oG" => "--output-grepable",
        "-oX" => "--output-xml",
        "-oL" => "--output-list",
        "-oA" => "--output-all",
        "-Pn" | "-P0" | "-PN" => "--no-ping",
        "-sn" | "-sP" => "--ping-scan",
        "-PR" => "--ping=arp",
        "-PE" => "--ping=echo",
        "-PP" => "--ping=timestamp",
        "-p-" => "--ports=-",
        _ => {
            // -PS22,80 / -PA / -PU53: TCP and UDP pings with their ports.
            for (flag, kind) in [("-PS", "syn"), ("-PA", "ack"), ("-PU", "udp")] {
                if let Some(ports) = s.strip_prefix(flag) {
                    return Some(if ports.is_empty() {
                        format!("--ping={kind}")
                    } else {
                        format!("--ping={kind}:{ports}")
                    });
                }
            }
            // nmap's -v3 / -d2: a level after the letter.
            for letter in ["v", "d"] {
                if let Some(n) = s.strip_prefix('-').and_then(|r| r.strip_prefix(letter))
                    && let Ok(level) = n.parse::<u8>()
                    && (1..=9).contains(&level)
                {
                    // One letter per level: clap counts occurrences.
                    return Some(format!("-{}", letter.repeat(level as usize)));
                }
            }
            return None;
        }
    };
    Some(long.to_string())
}

/// Scan types of nmap's `-s?` that synscan lacks, with the reason.
fn scan_type_message(letter: char) -> Option<String> {
    let (flag, what, instead) = match letter {
        'C' => (
            "-sC",
            "default scripts",
            "not supported: synscan has no scripting engine; run nmap -sC on the open ports synscan finds",
        ),
        'L' => (
            "-sL",
            "list scan",
            "not supported: --dry-run prints every probe a scan would send, without sending",
        ),
        'A' | 'W' | 'M' | 'N' | 'F' | 'X' | 'Y' | 'Z' | 'O' | 'I' | 'R' => {
            return Some(format!(
                "-s{letter} is not supported: synscan scans with SYN (-sS) or connect() (-sT)"
            ));
        }
        _ => return None,
    };
    Some(format!("{flag} ({what}) is {instead}"))
}

/// Why `s` is a flag synscan does not support, if it is one.
fn unsupported(s: &str) -> Option<String> {
    // `-sSV`, `-sA` ...: every letter must be S, T or U, with at most one of S and T (`-sn`
    // stands alone).
    if let Some(letters) = s.strip_prefix("-s")
        && !matches!(letters, "n" | "P")
        && !letters.is_empty()
        && letters.chars().all(|c| c.is_ascii_alphabetic())
    {
        if let Some(m) = letters.chars().find_map(|c| {
            if c == 'S' || c == 'T' || c == 'U' || c == 'V' {
                None
            } else {
                Some(scan_type_message(c).unwrap_or_else(|| {
                    format!("-s{c} is not an nmap scan type synscan knows: use -sS or -sT")
                }))
            }
        }) {
            return Some(m);
        }
        let tcp = letters.chars().filter(|&c| c == 'S' || c == 'T').count();
        let udp = letters.chars().filter(|&c| c == 'U').count();
        let banners = letters.chars().filter(|&c| c == 'V').count();
        if tcp > 1 || udp > 1 || banners > 1 {
            return Some(format!(
                "-s{letters} combines scan types: choose one of -sS (SYN) and -sT (connect), plus -sU for UDP"
            ));
        }
        return None;
    }
    // Host discovery probes synscan lacks: SCTP, address mask, IP protocol pings.
    if let Some(rest) = s.strip_prefix("-P")
        && rest.chars().next().is_some_and(|c| "YMOB".contains(c))
    {
        return Some(format!(
            "{s} is not supported: synscan pings with -PR, -PE, -PP, -PS, -PA and -PU"
        ));
    }
    let name = s.split('=').next().unwrap_or(s);
    let why = match name {
        "-O" | "--osscan-limit" | "--osscan-guess" | "--max-os-tries" => {
            "(OS detection) is not supported: synscan has no OS fingerprinting; run nmap -O on the hosts synscan finds"
        }
        "-A" => {
            "(OS and version detection, scripts and traceroute) is not supported: scan the ports with synscan, then run nmap -A on what it finds"
        }
        "--script" | "--script-args" | "--script-args-file" | "--script-help"
        | "--script-trace" | "--script-updatedb" => {
            "is not supported: synscan has no scripting engine; run nmap --script on the open ports synscan finds"
        }
        "--version-trace" => {
            "is not supported: -d shows nothing of the grabs either; read the ndjson banner fields"
        }
        "--traceroute" => "is not supported: trace one host with `synscan trace HOST -p PORT`",
        "-f" | "--mtu" => "(fragmented probes) is not supported",
        "-D" => "(decoys) is not supported",
        "--spoof-mac" => {
            "is not supported: synscan sends from the interface's own MAC (--router-mac sets the next hop's)"
        }
        "--data" | "--data-string" | "--data-length" | "--ip-options" | "--badsum" => {
            "is not supported: synscan's probes are plain SYNs (craft packets with `synscan send`)"
        }
        "-iR" => "(random targets) is not supported: synscan scans only the targets you name",
        "-oS" | "-oM" | "-oB" | "--append-output" | "--stylesheet" | "--webxml"
        | "--no-stylesheet" => "is not supported: use -oN, -oX, -oG, -oJ (NDJSON), -oL or -oA",
        "-R" | "--dns-servers" | "--system-dns" => {
            "is not supported: synscan never does reverse DNS (as with -n)"
        }
        "--min-hostgroup" | "--max-hostgroup" => {
            "is not supported: synscan probes every host at once, in one permuted order"
        }
        "--min-parallelism" | "--max-parallelism" => {
            "is not supported: use --rate, or --max-inflight for connect() scans"
        }
        "--max-scan-delay" => "is not supported: use --scan-delay or --rate",
        "--defeat-rst-ratelimit" | "--defeat-icmp-ratelimit" => "is not supported",
        "--privileged" | "--unprivileged" => {
            "is not supported: synscan finds its privileges itself; -sT forces a connect() scan"
        }
        "--send-eth" | "--send-ip" => {
            "is not supported: synscan picks how probes leave; see --send-path"
        }
        "--iflist" => "is not supported: use `ip addr` and `ip route`",
        "--packet-trace" => {
            "is not supported: --pcap FILE records every probe and reply; -d shows the engine's decisions"
        }
        "--stats-every" => "is not supported: the progress line updates by itself on a terminal",
        "-b" => "(FTP bounce scan) is not supported",
        "--proxies" => "is not supported: a raw scanner cannot go through proxies",
        "--port-ratio" => "is not supported: use --top-ports N",
        "--datadir" => "is not supported: give nmap's port ranking with --servicedb FILE",
        "-c" | "--conf" | "--readscan" | "--echo" | "--offline" | "--nmap-payloads"
        | "--pcap-payloads" | "--router-ip" | "--heartbleed" | "--ticketbleed" => {
            "(masscan) is not supported: see docs/usage.md for synscan's equivalents"
        }
        _ => return None,
    };
    Some(format!("{name} {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[&str]) -> Result<Vec<String>, String> {
        let argv = std::iter::once("synscan").chain(v.iter().copied());
        normalize(argv.map(OsString::from).collect()).map(|v| {
            v.into_iter()
                .skip(1)
                .map(|s| s.into_string().unwrap_or_default())
                .collect()
        })
    }

    #[test]
    fn nmap_spellings() {
        assert_eq!(
            norm(&[
                "-sT", "-p-", "-oX", "f", "-oA", "b", "-v3", "-d2", "--", "-sS"
            ])
            .unwrap(),
            [
                "--scan-type=connect",
                "--ports=-",
                "--output-xml",
                "f",
                "--output-all",
                "b",
                "-vvv",
                "-dd",
                "--",
                "-sS"
            ]
        );
        assert_eq!(norm(&["-sU"]).unwrap(), ["--udp"]);
        assert_eq!(
            norm(&[
                "-sn", "-PR", "-PE", "-PP", "-PS", "-PS22,80", "-PA443", "-PU"
            ])
            .unwrap(),
            [
                "--ping-scan",
                "--ping=arp",
                "--ping=echo",
                "--ping=timestamp",
                "--ping=syn",
                "--ping=syn:22,80",
                "--ping=ack:443",
                "--ping=udp"
            ]
        );
        assert_eq!(norm(&["-sSU"]).unwrap(), ["--scan-type=syn", "--udp"]);
        assert_eq!(norm(&["-sSV"]).unwrap(), ["--scan-type=syn", "--banners"]);
        assert_eq!(norm(&["-sV", "--banners", "-sV"]).unwrap(), ["--banners"]);
        assert_eq!(
            norm(&["-sV", "--version-intensity", "2", "--version-light", "x"]).unwrap(),
            ["--banners", "x"]
        );
        assert_eq!(norm(&["-sUT"]).unwrap(), ["--udp", "--scan-type=connect"]);
        // After `--` nothing is judged: a target may look like a flag.
        assert!(norm(&["--", "-O"]).is_ok());
    }

    #[test]
    fn unsupported_flags_are_named_with_what_to_use() {
        for (args, want) in [
            (vec!["-O"], "-O (OS detection) is not supported"),
            (vec!["-A"], "-A (OS and version"),
            (vec!["-sC"], "-sC (default scripts) is not supported"),
            (vec!["--script=http-title"], "--script is not supported"),
            (vec!["--script", "vuln"], "--script is not supported"),
            (vec!["-sUU"], "choose one of -sS"),
            (vec!["-PY"], "-PY is not supported: synscan pings with -PR"),
            (vec!["-PO1"], "-PO1 is not supported"),
            (vec!["-snT"], "-sn is not an nmap scan type"),
            (vec!["-sA"], "-sA is not supported: synscan scans with SYN"),
            (vec!["-sST"], "choose one of -sS"),
            (vec!["-sVV"], "combines scan types"),
            (vec!["--version-trace"], "--version-trace is not supported"),
            (vec!["-oS", "x"], "-oS is not supported"),
        ] {
            let e = norm(&args).expect_err(&format!("{args:?}"));
            assert!(e.contains(want), "{args:?}: {e}");
        }
        for ok in [
            vec!["-Pn"],
            vec!["-P0"],
            vec!["-sS"],
            vec!["-n"],
            vec!["-v"],
        ] {
            assert!(norm(&ok).is_ok(), "{ok:?}");
        }
    }
}
