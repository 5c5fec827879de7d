//! The Prometheus exposition (`report::prometheus`, served by `pinscope serve`) of a real audit,
//! read back from its saved `--format json` report, passes `promtool check metrics` from the
//! Debian `prometheus` package, hostile site labels included. Without promtool the test skips,
//! unless `PINSCOPE_REQUIRE_PROMETHEUS=1` (as `.ci/run` sets) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use pinscope::report::prometheus::{self, Health, Site};
use pinscope::report::saved::SavedReport;

/// `promtool check metrics` of `text`: whether it passed, and what it said.
fn check_metrics(promtool: &Path, text: &str) -> (bool, String) {
    let out = output_with_stdin(
        Command::new(promtool).args(["check", "metrics"]),
        text.as_bytes(),
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn a_real_audits_metrics_pass_promtool_check_metrics() {
    let Some(promtool) = require_tool("promtool", "PINSCOPE_REQUIRE_PROMETHEUS") else {
        return;
    };
    let lab = Lab::new();
    let good = tls_server(&lab.public.leaf(&["deviceenrollment.apple.com"], true));
    let forged = tls_server(&lab.inspection.leaf(&["albert.apple.com"], true));
    let closed = closed_port();
    let audit = lab.audit(
        &[
            ("deviceenrollment.apple.com", good),
            ("albert.apple.com", forged),
            ("vpp.itunes.apple.com", closed),
        ],
        &[],
    );
    assert_eq!(audit.code, 1, "stderr: {}", audit.stderr);
    let mut saved = SavedReport::parse(&audit.stdout).unwrap();
    // A hostile name and product, as a saved report (anyone's) can carry.
    let mut hostile = saved.targets[1].clone();
    hostile.host = "evil\"} 1\n# TYPE x counter\u{1b}[2J\\".into();
    if let Some(i) = hostile.interception.as_mut() {
        i.product = Some("Zscaler\"\n\u{202e}".into());
    }
    saved.targets.push(hostile);
    let run = saved.run();

    let site = Site {
        name: "lab \"one\"\nsecond line \\".into(),
        labels: vec![("region".into(), "eu\\west\"}".into())],
    };
    let health = Health {
        started_at_seconds: 1_798_761_000.25,
        audits_total: 1,
        last_audit_success: true,
        config_last_reload_success: true,
        interval_seconds: 300.0,
        ..Health::default()
    };
    let text = prometheus::metrics(&site, Some(&run), &health);
    let (ok, said) = check_metrics(&promtool, &text);
    assert!(ok && said.trim().is_empty(), "promtool: {said}\n{text}");
    let labels = |host: &str, port: u16| {
        format!(
            "host=\"{host}\",port=\"{port}\",transport=\"tcp\",section=\"\",verdict=\"{{}}\",\
             site=\"lab \\\"one\\\"\\\\nsecond line \\\\\",region=\"eu\\\\west\\\"}}\"}} 1"
        )
    };
    for (host, port, verdict) in [
        ("deviceenrollment.apple.com", good, "pass"),
        ("albert.apple.com", forged, "intercepted"),
        ("vpp.itunes.apple.com", closed, "blocked"),
    ] {
        let line = format!(
            "pinscope_target_verdict{{{}",
            labels(host, port).replace("{}", verdict)
        );
        assert!(text.contains(&line), "no {line} in\n{text}");
    }
    assert!(text.contains("pinscope_target_interception_info{host=\"albert.apple.com\""));
    assert!(
        text.contains(
            r#"pinscope_target_intercepted{host="evil\"} 1\\n# TYPE x counter\\x1b[2J\\","#
        )
    );
    assert!(text.contains(r#"product="Zscaler\"\\n\\u{202e}","#));

    // /probe's output, and the exporter's before its first audit, pass too.
    for text in [
        prometheus::probe(&site, &run),
        prometheus::metrics(&site, None, &Health::default()),
    ] {
        let (ok, said) = check_metrics(&promtool, &text);
        assert!(ok && said.trim().is_empty(), "promtool: {said}\n{text}");
    }
}

/// Every `pinscope_…` name the alert rules, their tests and the Grafana dashboard use is a family the
/// renderer writes: a renamed metric cannot silently break an alert or a panel.
#[test]
fn the_deploy_files_name_only_metrics_the_exporter_writes() {
    let lab = Lab::new();
    let forged = tls_server(&lab.inspection.leaf(&["albert.apple.com"], true));
    let audit = lab.audit(&[("albert.apple.com", forged)], &[]);
    let run = SavedReport::parse(&audit.stdout).unwrap().run();
    let site = Site {
        name: "lab".into(),
        labels: Vec::new(),
    };
    let text = prometheus::metrics(&site, Some(&run), &Health::default());
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in [
        "deploy/prometheus/pinscope-rules.yml",
        "deploy/prometheus/pinscope-rules.test.yml",
        "deploy/grafana/pinscope.json",
    ] {
        let content = std::fs::read_to_string(root.join(file)).unwrap();
        let mut names: Vec<&str> = content
            .match_indices("pinscope_")
            .map(|(i, _)| {
                let rest = &content[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            // Alert names are PinscopeX; panels may mention families in their descriptions.
            .filter(|n| n.len() > "pinscope_".len())
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(!names.is_empty(), "{file} names no metric");
        for name in names {
            assert!(
                families.contains(&name),
                "{file} uses {name}, which the exporter does not write"
            );
        }
    }
}
