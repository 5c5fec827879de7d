//! Bad input never panics: one line on stderr naming the value, file or line at fault, exit code 2,
//! and nothing written to stdout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

fn assert_usage_error(args: &[&str], expect: &str) {
    let run = pinscope(args);
    assert_eq!(
        run.code, 2,
        "{args:?}: exit {} stderr {}",
        run.code, run.stderr
    );
    let err = run.stderr.trim_end();
    assert_eq!(err.lines().count(), 1, "{args:?}: one line, got:\n{err}");
    assert!(err.starts_with("pinscope: error: "), "{args:?}: {err}");
    assert!(
        err.contains(expect),
        "{args:?}: expected '{expect}' in: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        run.stdout.is_empty(),
        "{args:?}: stdout should be empty: {}",
        run.stdout
    );
}

#[test]
fn bad_flags_and_values_are_usage_errors() {
    assert_usage_error(&["audit", "--no-such-flag"], "--no-such-flag");
    assert_usage_error(
        &["audit", "--resolve=gdmf.apple.com:443"],
        "--resolve 'gdmf.apple.com:443'",
    );
    assert_usage_error(
        &["audit", "--resolve=gdmf.apple.com:443:not-an-ip"],
        "not-an-ip",
    );
    assert_usage_error(
        &["audit", "--resolve=gdmf.apple.com:0:127.0.0.1"],
        "'0' is not a port",
    );
    assert_usage_error(&["audit", "--timeout=0"], "--timeout 0");
    assert_usage_error(&["audit", "--timeout=-3"], "--timeout");
    assert_usage_error(&["audit", "--concurrency=0"], "--concurrency 0");
    assert_usage_error(&["audit", "gdmf.apple.com:99999"], "'99999' is not a port");
    assert_usage_error(&["audit", "bad host name"], "not a valid host name");
    assert_usage_error(&["audit", "--section=nonsense"], "--section 'nonsense'");
    assert_usage_error(
        &["audit", "--host=nothing-matches.example"],
        "no catalog rows match",
    );
    assert_usage_error(
        &["audit", "gdmf.apple.com", "--section=apns"],
        "cannot be combined",
    );
    assert_usage_error(&["audit", "--format=xml"], "xml");
    assert_usage_error(
        &["inspect", "x.pem", "--host=a.example", "--at=yesterday"],
        "",
    );
    assert_usage_error(&["catalog", "--region=mars"], "mars");
}

#[test]
fn unreadable_and_malformed_files_are_named() {
    let scratch = Scratch::new();
    let missing = scratch.path("nope.txt");
    let missing = missing.to_str().unwrap();
    assert_usage_error(&["audit", &format!("--targets={missing}")], "nope.txt");
    let targets = scratch.file("targets.txt", "# ok\ngdmf.apple.com\ngdmf.apple.com:http\n");
    assert_usage_error(
        &["audit", &format!("--targets={}", targets.display())],
        "targets.txt:3: 'gdmf.apple.com:http'",
    );
    assert_usage_error(&["inspect", missing, "--host=a.example"], "nope.txt");
    let garbage = scratch.file("garbage.pem", "this is not a certificate\n");
    assert_usage_error(
        &["inspect", garbage.to_str().unwrap(), "--host=a.example"],
        "garbage.pem: neither PEM",
    );
    let broken = scratch.file(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n",
    );
    assert_usage_error(
        &["inspect", broken.to_str().unwrap(), "--host=a.example"],
        "broken.pem",
    );
    assert_usage_error(
        &["audit", &format!("--public-roots={}", garbage.display())],
        "garbage.pem",
    );
    let ca = Ca::root("Lab");
    let good = scratch.file("good.pem", &ca.leaf(&["a.example"], true).pem);
    assert_usage_error(
        &[
            "inspect",
            good.to_str().unwrap(),
            "--host=a.example",
            "--at=2024-13-45T00:00:00Z",
        ],
        "--at '2024-13-45T00:00:00Z'",
    );
    assert_usage_error(
        &["inspect", good.to_str().unwrap(), "--host=not a host"],
        "--host 'not a host'",
    );
}

#[test]
fn unwritable_output_fails_before_probing() {
    let port = silent_listener();
    let run = pinscope([
        "audit".to_string(),
        format!("gdmf.apple.com:{port}"),
        resolve("gdmf.apple.com", port),
        "--timeout=5".into(),
        "--output=/nonexistent-dir/report.json".into(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("/nonexistent-dir/report.json"),
        "{}",
        run.stderr
    );
    // It failed up front rather than after a 5 s probe.
    assert!(run.elapsed.as_secs() < 4, "{:?}", run.elapsed);
}

#[test]
fn help_and_version_succeed() {
    let help = pinscope(["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("audit"));
    assert!(help.stdout.contains("Exit codes"));
    let version = pinscope(["--version"]);
    assert_eq!(version.code, 0);
    assert!(version.stdout.starts_with("pinscope "));
}
