//! `synscan merge FILE|DIR...`: the command line of [`crate::merge`].

use super::args::Args;
use super::config::ScanConfig;
use crate::error::{Error, Result};
use crate::output::Format;
use crate::target::HostSet;
use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;

/// Merge the ndjson outputs of one scan's shards into one result: hosts and ports sorted,
/// repeated pairs dropped, counters summed. Refuses files of different scans; missing,
/// doubled or unfinished shards are an error unless --allow-partial.
#[derive(Parser, Debug)]
#[command(name = "synscan merge", version)]
struct MergeArgs {
    /// Shard outputs (ndjson with their header records); a directory means its *.ndjson files.
    #[arg(value_name = "FILE|DIR", required = true)]
    inputs: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    format: Format,

    /// Write to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,

    /// Merge what there is despite missing, doubled or unfinished shards (a notice says
    /// which); files of different scans and damaged files are still refused.
    #[arg(long = "allow-partial")]
    allow_partial: bool,
}

/// Runs `synscan merge` (argv[1] is `merge`).
pub fn run(argv: Vec<OsString>) -> Result<u8> {
    let argv: Vec<OsString> = std::iter::once(OsString::from("synscan merge"))
        .chain(argv.into_iter().skip(2))
        .collect();
    let args = match super::parse_sub::<MergeArgs>(&argv) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let files = crate::merge::expand(&args.inputs)?;
    if let Some(out) = &args.output
        && files.iter().any(|f| same_file(f, out))
    {
        return Err(Error::input(format!(
            "merge: the output '{}' is one of the inputs",
            out.display()
        )));
    }
    let dest: Box<dyn std::io::Write + Send> = match &args.output {
        Some(p) if p.as_os_str() != "-" => Box::new(crate::files::create_file(p)?),
        _ => Box::new(std::io::stdout()),
    };
    let writers = vec![crate::output::writer(args.format, dest)];
    let opts = crate::merge::Options {
        allow_partial: args.allow_partial,
    };
    let summary = crate::merge::merge(&files, &opts, &hosts_of, writers)?;
    for w in &summary.warnings {
        eprintln!("synscan: merge: warning: {w}");
    }
    eprintln!(
        "synscan: merged {} files: {} records, {} repeated pairs dropped, {} written",
        summary.files, summary.records, summary.duplicates, summary.written
    );
    Ok(0)
}

/// Options a header's scan arguments may hold: those `Args::scan_argv` writes, as
/// `--flag=value` or a bare switch. Anything else (an output, an input file) is refused,
/// since the arguments come from the file being merged.
const SCAN_OPTIONS: &[&str] = &[
    "--exclude=",
    "--ports=",
    "--scan-type=",
    "--timing=",
    "--rate=",
    "--min-rate=",
    "--scan-delay=",
    "--retries=",
    "--max-retries=",
    "--timeout=",
    "--min-rtt-timeout=",
    "--max-rtt-timeout=",
    "--initial-rtt-timeout=",
    "--host-timeout=",
    "--ttl=",
    "--max-inflight=",
    "--seed=",
    "--shard=",
    "--interface=",
    "--source-ip=",
    "--source-port=",
    "--router-mac=",
    "--wait=",
    "--banner-timeout=",
    "--banner-wait=",
    "--banner-concurrency=",
    "--send-path=",
    "--ping=",
];
const SCAN_SWITCHES: &[&str] = &[
    "--no-reset",
    "--include-broadcast",
    "--sequential",
    "--udp",
    "--udp-patient",
    "--banners",
    "--no-ping",
    "--ping-scan",
    "--disable-arp-ping",
];

/// A target or exclude as scan headers hold them: an address, a CIDR or an address range,
/// never a name (merge resolves nothing).
fn literal_target(t: &str) -> bool {
    use std::net::IpAddr;
    let ip = |s: &str| s.parse::<IpAddr>().is_ok();
    if let Some((a, bits)) = t.split_once('/') {
        return ip(a) && bits.parse::<u8>().is_ok();
    }
    if let Some((a, b)) = t.split_once('-') {
        return ip(a) && (ip(b) || b.parse::<u8>().is_ok());
    }
    ip(t)
}

/// The host set and scan id of a header's scan arguments.
fn hosts_of(scan: &[String]) -> Result<(HostSet, String)> {
    let bad = |a: &str| {
        Error::input(format!(
            "merge: the header's scan arguments hold '{a}', which no synscan header does"
        ))
    };
    let split = scan.iter().position(|a| a == "--").unwrap_or(scan.len());
    for a in &scan[..split] {
        let known = SCAN_SWITCHES.contains(&a.as_str())
            || SCAN_OPTIONS.iter().any(|o| a.starts_with(o))
            || a.starts_with("--udp-payload-file=");
        let excludes_ok = a
            .strip_prefix("--exclude=")
            .is_none_or(|list| list.split(',').all(literal_target));
        if !known || !excludes_ok {
            return Err(bad(a));
        }
    }
    if let Some(t) = scan[split..].iter().skip(1).find(|t| !literal_target(t)) {
        return Err(bad(t));
    }
    // A UDP payload file is not part of the scan id, and need not exist where merge runs.
    let argv = std::iter::once("synscan".to_string()).chain(
        scan.iter()
            .filter(|a| !a.starts_with("--udp-payload-file="))
            .cloned(),
    );
    let args = Args::try_parse_from(argv).map_err(|e| {
        Error::input(format!(
            "merge: the header's scan arguments do not parse: {}",
            super::one_line(&e)
        ))
    })?;
    let config = ScanConfig::from_args(args, String::new(), &mut std::io::empty())?;
    let id = crate::scan::identity::scan_id(&config);
    Ok((config.hosts, id))
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::hosts_of;

    fn id(args: &[&str]) -> String {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        hosts_of(&v).expect("scan args").1
    }

    #[test]
    fn the_scan_id_names_the_pairs_and_their_order_not_the_spelling() {
        let base = id(&["--ports=1-10", "--seed=1", "--", "10.0.0.0/30"]);
        assert_eq!(base.len(), 16);
        // The same hosts written another way, and what does not change the pairs.
        assert_eq!(
            base,
            id(&["--ports=1-10", "--seed=1", "--", "10.0.0.1-10.0.0.2"])
        );
        assert_eq!(
            base,
            id(&[
                "--ports=1-10",
                "--seed=1",
                "--rate=5000",
                "--",
                "10.0.0.0/30"
            ])
        );
        for other in [
            &["--ports=1-10", "--seed=2", "--", "10.0.0.0/30"][..],
            &["--ports=1-11", "--seed=1", "--", "10.0.0.0/30"],
            &["--ports=1-10", "--seed=1", "--", "10.0.0.0/29"],
            &["--ports=1-10", "--seed=1", "--udp", "--", "10.0.0.0/30"],
        ] {
            assert_ne!(base, id(other), "{other:?}");
        }
        assert_ne!(
            base,
            id(&[
                "--ports=1-10",
                "--seed=1",
                "--exclude=10.0.0.2",
                "--",
                "10.0.0.0/30"
            ])
        );
    }

    #[test]
    fn a_header_may_not_name_files_outputs_or_host_names() {
        for hostile in [
            vec!["--ports=1", "--output=/tmp/x", "--", "10.0.0.1"],
            vec!["--ports=1", "-oN", "/tmp/x", "--", "10.0.0.1"],
            vec!["--ports=1", "--input-list=/dev/zero"],
            vec!["--ports=1", "--exclude-file=/etc/shadow", "--", "10.0.0.1"],
            vec!["--ports=1", "--", "example.org"],
            vec!["--ports=1", "--exclude=example.org", "--", "10.0.0.1"],
            vec![
                "--ports=1",
                "--udp-payload-file",
                "/etc/shadow",
                "--",
                "10.0.0.1",
            ],
        ] {
            let v: Vec<String> = hostile.iter().map(|s| s.to_string()).collect();
            let e = hosts_of(&v).unwrap_err().to_string();
            assert!(e.contains("no synscan header does"), "{hostile:?}: {e}");
        }
    }
}
