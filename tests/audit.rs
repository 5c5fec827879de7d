//! `pinscope audit` against real TLS servers and misbehaving listeners on 127.0.0.1, with catalog
//! names pointed at them through `--resolve`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

#[test]
fn chain_under_a_public_root_passes_and_records_the_handshake() {
    let lab = Lab::new();
    let host = "deviceenrollment.apple.com";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let run = lab.audit(&[(host, port)], &[]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let json = run.json();
    let t = target_at(&json, host, port);
    assert_eq!(t["verdict"], "pass");
    assert_eq!(t["anchor"], "Lab Public Root");
    assert_eq!(t["sni"], host);
    assert_eq!(t["address_used"], "127.0.0.1");
    assert_eq!(t["addresses"][0], "127.0.0.1");
    assert_eq!(t["tls"]["version"], "TLSv1.3");
    assert!(
        t["tls"]["cipher_suite"]
            .as_str()
            .unwrap()
            .starts_with("TLS13_")
    );
    assert_eq!(t["chain"].as_array().unwrap().len(), 2);
    assert!(t["chain"][0]["subject"].as_str().unwrap().contains(host));
    assert_eq!(t["chain"][0]["sha256"].as_str().unwrap().len(), 64);
    // Catalog rows are per host:port; the lab server's port is not gdmf's catalog port.
    assert!(t["section"].is_null());
}

#[test]
fn chain_under_a_root_only_the_native_store_trusts_is_intercepted() {
    let lab = Lab::new();
    let host = "albert.apple.com";
    let port = tls_server(&lab.inspection.leaf(&[host], true));
    let run = lab.audit(&[(host, port)], &[]);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let json = run.json();
    let t = target_at(&json, host, port);
    assert_eq!(t["verdict"], "intercepted");
    assert_eq!(t["anchor"], "Corp SSL Inspection CA");
    assert!(has_code(t, "anchor_native_only"));
    let explanation = t["explanation"].as_str().unwrap();
    assert!(
        explanation.starts_with(&format!(
            "The chain {host}:{port} presented ends at 'Corp SSL Inspection CA'"
        )),
        "{explanation}"
    );
    assert!(
        explanation.ends_with(&format!("Exempt {host}:{port} from SSL inspection.")),
        "{explanation}"
    );
    assert!(
        explanation.contains("Corp SSL Inspection CA"),
        "{explanation}"
    );
}

#[test]
fn chain_ending_at_a_root_no_store_holds_is_intercepted() {
    let lab = Lab::new();
    let rogue = Ca::root("Rogue Middlebox CA");
    let host = "identity.apple.com";
    let port = tls_server(&rogue.leaf(&[host], true));
    let run = lab.audit(&[(host, port)], &[]);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "intercepted");
    assert!(has_code(t, "anchor_in_no_store"), "{t:#}");
    assert_eq!(t["anchor"], "Rogue Middlebox CA");
}

#[test]
fn leaf_without_its_issuer_is_untrusted_not_intercepted() {
    let lab = Lab::new();
    let private = Ca::root("Some Private Issuing CA");
    let host = "iprofiles.apple.com";
    let port = tls_server(&private.leaf(&[host], false));
    let run = lab.audit(&[(host, port)], &[]);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "untrusted");
    assert!(has_code(t, "unknown_issuer"), "{t:#}");
}

#[test]
fn publicly_valid_chain_for_another_name_is_untrusted() {
    let lab = Lab::new();
    let host = "mdmenrollment.apple.com";
    let port = tls_server(&lab.public.leaf(&["block.example.net"], true));
    let run = lab.audit(&[(host, port)], &[]);
    assert_eq!(run.code, 3);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "untrusted");
    assert!(has_code(t, "name_mismatch"), "{t:#}");
    assert!(
        t["explanation"]
            .as_str()
            .unwrap()
            .contains("block.example.net")
    );
}

#[test]
fn closed_port_is_blocked() {
    let lab = Lab::new();
    let port = closed_port();
    let run = lab.audit(&[("vpp.itunes.apple.com", port)], &[]);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "blocked");
    assert_eq!(codes(t), ["connection_refused"]);
    assert!(t["tls"].is_null());
}

#[test]
fn silent_listener_times_out_within_the_deadline() {
    let lab = Lab::new();
    let port = silent_listener();
    let run = lab.audit(&[("swscan.apple.com", port)], &["--timeout=1"]);
    assert_eq!(run.code, 3);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "timeout");
    assert!(
        t["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sent nothing"),
        "{t:#}"
    );
    // One deadline per target: the whole run must not take much longer than it.
    assert!(
        run.elapsed < Duration::from_secs(4),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn plain_http_on_the_tls_port_is_a_tls_error() {
    let lab = Lab::new();
    let port = http_server();
    let run = lab.audit(&[("xp.apple.com", port)], &[]);
    assert_eq!(run.code, 3);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "tls_error");
    assert_eq!(codes(t), ["not_tls"]);
    assert!(
        t["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("HTTP/1.1 400 Bad Request"),
        "{t:#}"
    );
}

#[test]
fn close_after_client_hello_is_blocked() {
    let lab = Lab::new();
    let port = closing_server();
    let run = lab.audit(&[("gsa.apple.com", port)], &[]);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    assert_eq!(codes(t), ["connection_closed"]);
}

#[test]
fn unresolvable_name_is_a_dns_error_and_ip_targets_skip_dns() {
    let lab = Lab::new();
    let host = "does-not-exist.invalid";
    let ip_port = tls_server(&lab.public.leaf(&["127.0.0.1"], true));
    let mut args = vec![
        "audit".to_string(),
        format!("{host}:443"),
        format!("127.0.0.1:{ip_port}"),
        "--timeout=5".into(),
        "--format=json".into(),
    ];
    args.extend(lab.trust());
    let run = pinscope(&args);
    let json = run.json();
    assert_eq!(target_at(&json, host, 443)["verdict"], "dns_error");
    let ip = target_at(&json, "127.0.0.1", ip_port);
    // rcgen puts "127.0.0.1" in a DNS SAN, which does not cover an IP address target.
    assert!(ip["sni"].is_null());
    assert!(ip["tls"].is_object(), "{ip:#}");
}

#[test]
fn exit_codes_follow_the_worst_verdict() {
    let lab = Lab::new();
    let good = tls_server(&lab.public.leaf(&["deviceenrollment.apple.com"], true));
    let forged = tls_server(&lab.inspection.leaf(&["albert.apple.com"], true));
    let closed = closed_port();
    let run_with = |targets: &[(&str, u16)]| lab.audit(targets, &[]);
    assert_eq!(run_with(&[("deviceenrollment.apple.com", good)]).code, 0);
    assert_eq!(
        run_with(&[
            ("deviceenrollment.apple.com", good),
            ("vpp.itunes.apple.com", closed)
        ])
        .code,
        3
    );
    let all = run_with(&[
        ("deviceenrollment.apple.com", good),
        ("albert.apple.com", forged),
        ("vpp.itunes.apple.com", closed),
    ]);
    assert_eq!(all.code, 1);
    let summary = &all.json()["summary"];
    assert_eq!(summary["total"], 3);
    assert_eq!(summary["pass"], 1);
    assert_eq!(summary["intercepted"], 1);
    assert_eq!(summary["blocked"], 1);
    assert_eq!(summary["exit_code"], 1);
}

#[test]
fn catalog_section_audit_reports_every_row() {
    let lab = Lab::new();
    let port = tls_server(&lab.public.leaf(&["albert.apple.com"], true));
    // Point every device-setup name on port 443 at one lab server; plain-HTTP port 80 rows at a
    // closed port; UDP rows are skipped. Catalog rows use their own ports, so port 443 is remapped
    // through a user catalog that moves albert to the lab port.
    let scratch = Scratch::new();
    let catalog = scratch.file(
        "extra.toml",
        &format!(
            "version = 1\n[[entry]]\nhosts = [\"albert.apple.com\"]\nports = [{port}]\ntransport = \"tcp\"\nsection = \"device-setup\"\nsource = \"apple-enterprise\"\ndescription = \"Device activation (lab)\"\n"
        ),
    );
    let mut args = vec![
        "audit".to_string(),
        "--section=device-setup".into(),
        format!("--catalog={}", catalog.display()),
        format!("--resolve=*:{port}:127.0.0.1"),
        "--resolve=*:443:127.0.0.1".into(),
        "--resolve=*:80:127.0.0.1".into(),
        "--resolve=*:123:127.0.0.1".into(),
        "--timeout=2".into(),
        "--format=json".into(),
    ];
    args.extend(lab.trust());
    let run = pinscope(&args);
    let json = run.json();
    let expected = pinscope([
        "catalog",
        "--section=device-setup",
        "--format=json",
        &format!("--catalog={}", catalog.display()),
    ])
    .json();
    let expected_len = expected.as_array().unwrap().len();
    assert_eq!(
        json["targets"].as_array().unwrap().len(),
        expected_len,
        "every catalog row is reported"
    );
    assert_eq!(
        target_at(&json, "albert.apple.com", port)["verdict"],
        "pass"
    );
    // UDP 123 is probed with SNTP; nothing answers on loopback.
    let ntp = target_at(&json, "time.apple.com", 123);
    assert_eq!(ntp["transport"], "udp");
    assert!(
        ["blocked", "timeout"].contains(&ntp["verdict"].as_str().unwrap()),
        "{ntp:#}"
    );
}

#[test]
fn a_target_on_a_udp_catalog_port_is_probed_as_tcp_without_the_udp_row() {
    // time.apple.com:123 is an NTP (UDP) row; a command-line target is TLS over TCP, so the UDP
    // row's section and description do not describe it.
    let run = pinscope([
        "audit",
        "time.apple.com:123",
        "--resolve=time.apple.com:123:127.0.0.1",
        "--no-revocation",
        "--format=json",
        "--timeout=3",
    ]);
    let t = &run.json()["targets"][0];
    assert_eq!(t["transport"], "tcp");
    assert!(t["section"].is_null(), "{t:#}");
}

#[test]
fn targets_file_with_comments_is_read() {
    let lab = Lab::new();
    let port = tls_server(&lab.public.leaf(&["deviceenrollment.apple.com"], true));
    let list = lab.scratch.file(
        "targets.txt",
        &format!("# lab targets\n\ndeviceenrollment.apple.com:{port}   # the lab server\n"),
    );
    let mut args = vec![
        "audit".to_string(),
        format!("--targets={}", list.display()),
        resolve("deviceenrollment.apple.com", port),
        "--format=json".into(),
    ];
    args.extend(lab.trust());
    let run = pinscope(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["targets"].as_array().unwrap().len(), 1);
}

#[test]
fn output_file_holds_the_report_and_table_is_the_default() {
    let lab = Lab::new();
    let port = tls_server(&lab.public.leaf(&["deviceenrollment.apple.com"], true));
    let out = lab.scratch.path("report.json");
    let run = lab.audit(
        &[("deviceenrollment.apple.com", port)],
        &[&format!("--output={}", out.display())],
    );
    assert_eq!(run.code, 0);
    assert!(run.stdout.is_empty());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["tool"], "pinscope");

    let mut args = vec![
        "audit".to_string(),
        format!("deviceenrollment.apple.com:{port}"),
        resolve("deviceenrollment.apple.com", port),
    ];
    args.extend(lab.trust());
    let table = pinscope(&args);
    assert!(table.stdout.starts_with("TARGET"), "{}", table.stdout);
    assert!(
        table
            .stdout
            .contains(&format!("deviceenrollment.apple.com:{port}"))
    );
    assert!(
        table.stdout.trim_end().ends_with("1 target: 1 pass"),
        "{}",
        table.stdout
    );
    assert!(
        !table.stdout.contains('\x1b'),
        "no colour when NO_COLOR is set or stdout is not a TTY"
    );
}

/// Issue 13: a targets file is read as the run goes (so `--format jsonl` over millions of lines
/// does not hold them), yet every bad line is still reported before anything is probed, each once
/// with its number, and nothing is probed.
#[test]
fn every_bad_line_of_a_targets_file_is_reported_once_before_probing() {
    let scratch = Scratch::new();
    let list = scratch.file(
        "targets.txt",
        "a.example:1\nb.example:http\n# fine\nc.example:2\nd.example:99999\nb.example:http\n",
    );
    let run = pinscope([
        "audit".to_string(),
        format!("--targets={}", list.display()),
        "--format=jsonl".into(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing probed: {}", run.stdout);
    for line in [2, 5, 6] {
        let needle = format!("targets.txt:{line}: ");
        assert_eq!(run.stderr.matches(&needle).count(), 1, "{}", run.stderr);
    }
    assert!(!run.stderr.contains("targets.txt:1:"), "{}", run.stderr);
}

/// A target named twice (in the file, or on the command line and in the file) is probed and
/// reported once, in the order first named, also when the file is read as the run goes.
#[test]
fn repeated_targets_are_reported_once_in_streamed_runs() {
    let scratch = Scratch::new();
    let port = closed_port();
    let list = scratch.file(
        "targets.txt",
        &format!("a.example:{port}\nb.example:{port}\nA.example:{port}\nc.example:{port}\n"),
    );
    let run = pinscope([
        "audit".to_string(),
        format!("c.example:{port}"),
        format!("--targets={}", list.display()),
        format!("--resolve=*:{port}:127.0.0.1"),
        "--no-revocation".into(),
        "--concurrency=1".into(),
        "--format=jsonl".into(),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hosts: Vec<&str> = lines[..lines.len() - 1]
        .iter()
        .map(|l| l["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["c.example", "a.example", "b.example"]);
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["total"], 3);
    assert_eq!(summary["blocked"], 3);
}
