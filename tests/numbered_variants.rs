//! The catalog's numbered variants (1-courier.push.apple.com … 50-courier.push.apple.com on each
//! port) share one table line per wildcard, port and transport, naming the hosts that differ;
//! `--expand` lists every one, and the machine-readable formats always do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

const COURIERS: &str = "--host=*-courier.push.apple.com";

/// Lines of a table that are about the numbered courier hosts.
fn courier_lines(table: &str) -> Vec<&str> {
    table.lines().filter(|l| l.contains("-courier.")).collect()
}

/// Audits the numbered couriers (3 ports × 50 hosts) against one loopback server, except
/// 7-courier.push.apple.com, pointed at a closed port so it disagrees with the rest.
fn audit_couriers(lab: &Lab, extra: &[&str]) -> Run {
    let port = tls_server(&lab.public.leaf(&["*.push.apple.com"], true));
    let closed = closed_port();
    let mut args = vec![
        "audit".to_string(),
        COURIERS.into(),
        // The first matching rule wins: the odd one out first.
        format!("--connect-to=7-courier.push.apple.com::127.0.0.1:{closed}"),
        format!("--connect-to=::127.0.0.1:{port}"),
        "--no-revocation".into(),
        "--timeout=5".into(),
    ];
    args.extend(extra.iter().map(ToString::to_string));
    args.extend(lab.trust());
    pinscope(&args)
}

#[test]
fn the_audit_table_shows_one_line_per_wildcard_and_port_naming_the_host_that_differs() {
    let lab = Lab::new();
    let run = audit_couriers(&lab, &[]);
    let lines = courier_lines(&run.stdout);
    assert_eq!(lines.len(), 3, "{}{}", run.stdout, run.stderr);
    for port in [5223, 443, 80] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("*-courier.push.apple.com:{port} ")))
            .unwrap_or_else(|| panic!("no line for :{port}\n{}", run.stdout));
        assert!(line.contains("50 hosts: "), "{line}");
        // The closed port is refused: the disagreeing host is counted and named.
        assert!(
            line.contains("1 blocked (7-courier.push.apple.com)"),
            "{line}"
        );
        assert!(!line.contains("8-courier.push.apple.com"), "{line}");
    }
    // The summary still counts every target.
    assert!(run.stdout.contains("150 targets"), "{}", run.stdout);
}

#[test]
fn expand_lists_every_variant_and_json_always_does() {
    let lab = Lab::new();
    let expanded = audit_couriers(&lab, &["--expand"]);
    let lines = courier_lines(&expanded.stdout);
    assert_eq!(lines.len(), 150, "{}", expanded.stdout);
    assert!(
        lines.iter().all(|l| !l.starts_with('*')),
        "{}",
        expanded.stdout
    );

    let json = audit_couriers(&lab, &["--format=json"]);
    let targets = json.json()["targets"].as_array().unwrap().len();
    assert_eq!(targets, 150);

    // A saved report re-rendered as a table is collapsed the same way, and expands the same way.
    let saved = lab.scratch.file("saved.json", &json.stdout);
    let saved = saved.to_str().unwrap();
    let table = pinscope(["report", saved, "--format=table"]);
    assert_eq!(courier_lines(&table.stdout).len(), 3, "{}", table.stdout);
    let table = pinscope(["report", saved, "--format=table", "--expand"]);
    assert_eq!(courier_lines(&table.stdout).len(), 150, "{}", table.stdout);
    // Other formats keep every row.
    let markdown = pinscope(["report", saved, "--format=markdown"]).stdout;
    assert!(!markdown.contains("*-courier"), "{markdown}");
    for n in 1..=50 {
        assert!(markdown.contains(&format!("| {n}-courier.push.apple.com:443 ")));
    }
}

#[test]
fn the_catalog_table_collapses_the_variants_too() {
    let table = pinscope(["catalog", COURIERS]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let lines = courier_lines(&table.stdout);
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    assert!(
        lines.iter().all(|l| l.contains("50 hosts")),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("150 rows (150 numbered variants shown as 3 lines"),
        "{}",
        table.stdout
    );
    let expanded = pinscope(["catalog", COURIERS, "--expand"]);
    assert_eq!(courier_lines(&expanded.stdout).len(), 150);
    let json = pinscope(["catalog", COURIERS, "--format=json"]);
    assert_eq!(json.json().as_array().unwrap().len(), 150);
}
