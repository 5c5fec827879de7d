//! The Prometheus exposition (`report::prometheus`, served by `pinscope serve`) of a real audit,
//! read back from its saved `--format json` report, passes `promtool check metrics` from the
//! Debian `prometheus` package, hostile site labels included. Without promtool the test skips,
//! unless `PINSCOPE_REQUIRE_PROMETHEUS=1` (as `.ci/run` sets) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use pinscope::report::prometheus::{self, Health, Site};
use pinscope::report::saved::SavedReport;

/// `promtool check metrics` of `text`: whether it passed, and what it said.
fn check_metrics(promtool: &Path, text: &str) -> (bool, String) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
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
    let run = SavedReport::parse(&audit.stdout).unwrap().run();

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

    // /probe's output, and the exporter's before its first audit, pass too.
    for text in [
        prometheus::probe(&site, &run),
        prometheus::metrics(&site, None, &Health::default()),
    ] {
        let (ok, said) = check_metrics(&promtool, &text);
        assert!(ok && said.trim().is_empty(), "promtool: {said}\n{text}");
    }
}
