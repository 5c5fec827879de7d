//! A soak run: 2000 loopback targets failing in every way a network makes TLS fail, at once. Every
//! target must be reported exactly once with its group's verdict, within a bounded time and memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const DOMAIN: &str = "soak.pinscope.test";

/// The group of targets, how many, the port that serves them, and the verdict and first finding
/// each must get.
struct Group {
    name: &'static str,
    count: usize,
    port: u16,
    verdict: &'static str,
    code: Option<&'static str>,
}

#[test]
fn two_thousand_failing_targets_are_each_reported_once_in_bounded_time_and_memory() {
    let root = Ca::root("Lab Public Root");
    let groups = [
        Group {
            name: "pass",
            count: 800,
            port: tls_server(&root.leaf(&[&format!("*.{DOMAIN}")], true)),
            verdict: "pass",
            code: None,
        },
        Group {
            name: "refused",
            count: 300,
            port: closed_port(),
            verdict: "blocked",
            code: Some("connection_refused"),
        },
        Group {
            name: "silent",
            count: 300,
            port: silent_listener(),
            verdict: "timeout",
            code: Some("timeout"),
        },
        Group {
            name: "closing",
            count: 200,
            port: closing_server(),
            verdict: "blocked",
            code: Some("connection_closed"),
        },
        Group {
            name: "http",
            count: 200,
            port: http_server(),
            verdict: "tls_error",
            code: Some("not_tls"),
        },
        Group {
            name: "reset",
            count: 200,
            port: resetting_server(),
            verdict: "blocked",
            code: Some("connection_reset"),
        },
    ];
    let total: usize = groups.iter().map(|g| g.count).sum();
    assert_eq!(total, 2000);

    // Interleaved, so the slow groups do not all start at once.
    let mut lines = Vec::new();
    for i in 0..groups.iter().map(|g| g.count).max().unwrap() {
        for g in groups.iter().filter(|g| i < g.count) {
            lines.push(format!("{}{i}.{DOMAIN}:{}", g.name, g.port));
        }
    }
    let scratch = Scratch::new();
    let targets = scratch.file("targets.txt", &lines.join("\n"));
    let public = scratch.file("public.pem", &root.pem);
    let rss_file = scratch.path("maxrss");
    let mut args = vec![
        "audit".to_string(),
        format!("--targets={}", targets.display()),
        format!("--public-roots={}", public.display()),
        format!("--native-roots={}", public.display()),
        "--timeout=3".into(),
        "--format=jsonl".into(),
        "-q".into(),
    ];
    for g in &groups {
        args.push(format!("--resolve=*:{}:127.0.0.1", g.port));
    }

    // GNU time measures the child alone (the test process's own rusage would include the peak of
    // whatever it exec'd earlier).
    let gnu_time = std::path::Path::new("/usr/bin/time").exists()
        && Command::new("/usr/bin/time")
            .args(["-f", "%M", "true"])
            .output()
            .is_ok_and(|o| o.status.success());
    let started = Instant::now();
    let out = if gnu_time {
        Command::new("/usr/bin/time")
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&rss_file)
            .arg(env!("CARGO_BIN_EXE_pinscope"))
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
    } else {
        pinscope_command().args(&args).output()
    }
    .expect("run pinscope");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let mut seen: HashMap<String, serde_json::Value> = HashMap::new();
    let mut summary = None;
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        if v.get("summary").is_some() {
            assert!(summary.is_none(), "one summary line");
            summary = Some(v);
            continue;
        }
        assert!(summary.is_none(), "the summary line comes last");
        let key = format!("{}:{}", v["host"].as_str().unwrap(), v["port"]);
        assert!(
            seen.insert(key.clone(), v).is_none(),
            "{key} reported twice"
        );
    }
    assert_eq!(seen.len(), total, "every target reported");
    let summary = summary.expect("a summary line")["summary"].clone();
    assert_eq!(summary["total"], total);

    for g in &groups {
        let mut wrong = Vec::new();
        for i in 0..g.count {
            let key = format!("{}{i}.{DOMAIN}:{}", g.name, g.port);
            let t = seen.get(&key).unwrap_or_else(|| panic!("{key} missing"));
            let code = t["findings"][0]["code"].as_str();
            let ok = t["verdict"] == g.verdict && g.code.is_none_or(|c| code == Some(c));
            if !ok {
                wrong.push(format!("{key}: {} {:?}", t["verdict"], code));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {} '{}' targets got another verdict, e.g. {:?}",
            wrong.len(),
            g.count,
            g.name,
            &wrong[..wrong.len().min(5)]
        );
    }
    assert_eq!(summary["pass"], 800);
    assert_eq!(summary["blocked"], 700);
    assert_eq!(summary["timeout"], 300);
    assert_eq!(summary["tls_error"], 200);

    let rss_kb: Option<u64> = gnu_time
        .then(|| std::fs::read_to_string(&rss_file).ok())
        .flatten()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()));
    eprintln!(
        "soak: {total} targets in {elapsed:?}, peak RSS {}",
        rss_kb.map_or("not measured (no GNU time)".into(), |k| format!(
            "{:.1} MB",
            k as f64 / 1024.0
        ))
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    if let Some(kb) = rss_kb {
        assert!(kb < 200 * 1024, "peak RSS {kb} kB");
    }
}
