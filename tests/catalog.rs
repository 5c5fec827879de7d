//! `pinscope catalog`: the built-in catalog is complete against its sources, merges and expands as
//! documented, and answers filters and Kandji tenant flags.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use common::*;

fn rows(args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["catalog", "--format=json"];
    all.extend_from_slice(args);
    let run = pinscope(&all);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    run.json().as_array().unwrap().clone()
}

fn find<'a>(rows: &'a [serde_json::Value], host: &str, port: u64) -> Option<&'a serde_json::Value> {
    rows.iter().find(|r| r["host"] == host && r["port"] == port)
}

#[test]
fn every_row_is_one_host_port_transport_with_the_documented_fields() {
    let rows = rows(&[]);
    assert!(rows.len() > 300, "{} rows", rows.len());
    let mut seen = HashSet::new();
    for r in &rows {
        for field in [
            "host",
            "port",
            "transport",
            "section",
            "description",
            "supports_proxy",
            "legacy",
            "representative",
            "source",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
        let key = (
            r["host"].as_str().unwrap().to_owned(),
            r["port"].as_u64().unwrap(),
            r["transport"].as_str().unwrap().to_owned(),
        );
        assert!(seen.insert(key.clone()), "duplicate row {key:?}");
        assert!(["yes", "no", "unknown"].contains(&r["supports_proxy"].as_str().unwrap()));
        assert!(["tcp", "udp", "ssh"].contains(&r["transport"].as_str().unwrap()));
    }
}

#[test]
fn hosts_listed_by_several_sections_merge_into_one_row() {
    let rows = rows(&[]);
    let gdmf = find(&rows, "gdmf.apple.com", 443).unwrap();
    assert_eq!(gdmf["section"], "device-management");
    let sections: Vec<&str> = gdmf["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(sections, ["device-management", "software-updates"]);
    // One section says "Yes", the other "—": the stronger statement wins.
    assert_eq!(gdmf["supports_proxy"], "yes");
}

#[test]
fn entries_only_the_older_edition_lists_are_legacy() {
    let rows = rows(&[]);
    for (host, port) in [
        ("ns.itunes.apple.com", 443),
        ("crl.entrust.net", 80),
        ("ocsp.entrust.net", 80),
        ("gnf-mdn.apple.com", 443),
        ("gnf-mr.apple.com", 443),
        ("gateway.push.apple.com", 2195),
        ("feedback.push.apple.com", 2196),
    ] {
        let r = find(&rows, host, port).unwrap_or_else(|| panic!("{host}:{port} missing"));
        assert_eq!(r["legacy"], true, "{host}:{port}");
    }
    assert_eq!(
        find(&rows, "albert.apple.com", 443).unwrap()["legacy"],
        false
    );
}

#[test]
fn wildcards_expand_to_representative_names() {
    let rows = rows(&["--host=*.push.apple.com"]);
    for n in 1..=50 {
        let host = format!("{n}-courier.push.apple.com");
        let r = find(&rows, &host, 5223).unwrap_or_else(|| panic!("{host}:5223 missing"));
        assert_eq!(r["representative"], true);
        assert_eq!(r["pattern"], "*.push.apple.com");
    }
    assert!(find(&rows, "api.push.apple.com", 2197).is_some());
    // Wildcards with no known name stay visible as one unprobeable row per port.
    let all = self::rows(&[]);
    let apzones = find(&all, "*.apzones.com", 443).expect("*.apzones.com row");
    assert_eq!(apzones["representative"], false);
}

#[test]
fn kandji_tenant_rows_appear_only_with_the_tenant_flags() {
    let plain = rows(&["--section=kandji"]);
    assert!(
        plain
            .iter()
            .all(|r| !r["host"].as_str().unwrap().contains("kandji.io")),
        "no tenant rows without flags"
    );
    assert!(find(&plain, "updater.iru.com", 443).is_some());

    let us = rows(&[
        "--section=kandji",
        "--kandji-tenant=0a1b2c3d",
        "--kandji-subdomain=acme",
        "--region=us",
    ]);
    assert!(find(&us, "0a1b2c3d.web-api.kandji.io", 443).is_some());
    assert!(find(&us, "0a1b2c3d.devices.us-1.kandji.io", 443).is_some());
    assert!(find(&us, "acme.iru.com", 443).is_some());
    assert!(find(&us, "0a1b2c3d.devices.eu.kandji.io", 443).is_none());

    let eu = rows(&[
        "--section=kandji",
        "--kandji-tenant=0a1b2c3d",
        "--kandji-subdomain=acme",
        "--region=eu",
    ]);
    assert!(find(&eu, "0a1b2c3d.web-api.eu.kandji.io", 443).is_some());
    assert!(find(&eu, "0a1b2c3d.devices.eu.kandji.io", 443).is_some());
    assert!(find(&eu, "0a1b2c3d.devices.us-1.kandji.io", 443).is_none());

    let missing_region = pinscope(["catalog", "--kandji-tenant=0a1b2c3d"]);
    assert_eq!(missing_region.code, 2);
    let bad_label = pinscope(["catalog", "--kandji-tenant=a.b", "--region=us"]);
    assert_eq!(bad_label.code, 2);
    assert!(
        bad_label.stderr.contains("--kandji-tenant 'a.b'"),
        "{}",
        bad_label.stderr
    );
}

#[test]
fn section_and_host_filters_narrow_the_rows() {
    let rows = rows(&["--section=certificate-validation"]);
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| {
        r["sections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "certificate-validation")
    }));
    let gdmf = self::rows(&["--host=gdmf*"]);
    let hosts: HashSet<&str> = gdmf.iter().map(|r| r["host"].as_str().unwrap()).collect();
    assert_eq!(
        hosts,
        HashSet::from(["gdmf.apple.com", "gdmf-ados.apple.com"])
    );
    let table = pinscope(["catalog", "--host=albert.apple.com"]);
    assert!(table.stdout.starts_with("HOST:PORT"), "{}", table.stdout);
    assert!(table.stdout.contains("albert.apple.com:443"));
}

#[test]
fn user_catalog_adds_and_replaces_rows() {
    let scratch = Scratch::new();
    let file = scratch.file(
        "mine.toml",
        r#"version = 1
[[section]]
id = "lab"
title = "Lab hosts"

[[entry]]
hosts = ["albert.apple.com"]
ports = [443]
transport = "tcp"
section = "lab"
source = "apple-enterprise"
description = "replaced by the user"

[[entry]]
hosts = ["mdm.example.com"]
ports = [8443]
transport = "tcp"
section = "lab"
source = "apple-enterprise"
"#,
    );
    let rows = rows(&[&format!("--catalog={}", file.display())]);
    assert_eq!(
        find(&rows, "albert.apple.com", 443).unwrap()["description"],
        "replaced by the user"
    );
    assert_eq!(
        find(&rows, "mdm.example.com", 8443).unwrap()["section"],
        "lab"
    );
}

#[test]
fn malformed_catalog_names_file_line_and_field() {
    let scratch = Scratch::new();
    let cases = [
        (
            "version = 1\n[[entry]]\nhosts = [\"a.example\"]\nports = [70000]\ntransport = \"tcp\"\nsection = \"apns\"\nsource = \"apns-networking\"\n",
            ":4: ports",
        ),
        (
            "version = 1\n[[entry]]\nhosts = [\"a.example\"]\nports = [443]\ntransport = \"tcp\"\nsection = \"nowhere\"\nsource = \"apns-networking\"\n",
            ":6: section: unknown section 'nowhere'",
        ),
        (
            "version = 1\n[[entry]]\nhosts = [\"a.example\"]\nports = [443]\ntransport = \"quic\"\nsection = \"apns\"\nsource = \"apns-networking\"\n",
            ":5: transport",
        ),
        (
            "version = 1\n[[entry]]\nhosts = [\"a.example\"]\nports = [443]\ntransport = \"tcp\"\nsection = \"apns\"\nsource = \"apns-networking\"\ncolour = \"red\"\n",
            ":8: colour",
        ),
        ("version = 2\n", ":1: version"),
        (
            "version = 1\n[[entry]]\nhosts = [\"bad host\"]\nports = [443]\ntransport = \"tcp\"\nsection = \"apns\"\nsource = \"apns-networking\"\n",
            ":3: hosts",
        ),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let file = scratch.file(&format!("bad{i}.toml"), text);
        let run = pinscope(["catalog", &format!("--catalog={}", file.display())]);
        assert_eq!(run.code, 2, "case {i}: {}", run.stderr);
        let line = run.stderr.trim_end();
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        assert!(
            line.contains(&format!("bad{i}.toml{expect}")),
            "case {i}: {line}"
        );
    }
}

/// Every host name in Apple's current article and its older edition is in the catalog (as a host
/// or a wildcard pattern), except the firewall advice `*.apple.com`.
#[test]
fn catalog_covers_every_host_in_apples_articles() {
    let Some(seeds) = require_tool("../shared/seeds", "PINSCOPE_REQUIRE_REFERENCE") else {
        return;
    };
    let rows = rows(&[]);
    let known: HashSet<String> = rows
        .iter()
        .flat_map(|r| {
            [
                r["host"].as_str().map(str::to_owned),
                r["pattern"].as_str().map(str::to_owned),
            ]
        })
        .flatten()
        .collect();
    let mut missing = Vec::new();
    for seed in ["000_5e2dbf268f370d8f.txt", "001_616025768015ab94.txt"] {
        let text = std::fs::read_to_string(seeds.join(seed)).unwrap();
        for token in text.split(|c: char| {
            c.is_whitespace() || c == '|' || c == ',' || c == '"' || c == '(' || c == ')'
        }) {
            let t = token.trim_end_matches('.').to_ascii_lowercase();
            let is_host = t.contains('.')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '*')
                && t.rsplit('.').next().is_some_and(|tld| {
                    tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
                })
                && !t.starts_with("www.apple.com/");
            if is_host
                && t != "*.apple.com"
                && !t.starts_with("support.apple.com")
                && !t.starts_with("developer.apple.com")
                && !known.contains(&t)
            {
                missing.push(format!("{seed}: {t}"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "hosts in the seeds but not in the catalog: {missing:#?}"
    );
}
