//! Baselines and drift: a clean network recorded, then a planned rotation told apart from a
//! substitution, on real TLS servers on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

const HOST: &str = "deviceenrollment.apple.com";

struct Setup {
    scratch: Scratch,
    roots: Vec<String>,
}

impl Setup {
    /// Two public roots (the second stands for a CA the service might move to) and an
    /// inspection CA in the native store.
    fn new(public: &[&Ca], inspection: &Ca) -> Self {
        let scratch = Scratch::new();
        let pem: String = public.iter().map(|c| c.pem.as_str()).collect();
        let roots = vec![
            scratch.roots("public", &pem),
            scratch.roots("native", &inspection.pem),
        ];
        Self { scratch, roots }
    }

    fn run(&self, command: &[&str], port: u16, extra: &[String]) -> Run {
        let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        args.push(format!("{HOST}:{port}"));
        args.push(resolve(HOST, port));
        args.push("--no-revocation".into());
        args.extend(self.roots.iter().cloned());
        args.extend(extra.iter().cloned());
        pinscope(&args)
    }
}

#[test]
fn rotation_is_a_notice_and_substitution_is_interception() {
    let ca = Ca::root("Service CA");
    let other_public = Ca::root("Another Public CA");
    let inspection = Ca::root("Corp Inspection CA");
    let setup = Setup::new(&[&ca, &other_public], &inspection);
    // One host:port whose certificate changes between audits, as a real one would.
    let (port, server) = swappable_tls_server(&ca.leaf(&[HOST], true));
    let file = setup.scratch.path("baseline.json");

    let saved = setup.run(&["baseline", "save", file.to_str().unwrap()], port, &[]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    assert!(
        saved.stderr.contains("1 targets recorded"),
        "{}",
        saved.stderr
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["pinscope_baseline"], 1);
    let entry = &doc["targets"][0];
    assert_eq!(entry["host"], HOST);
    assert_eq!(entry["chain"].as_array().unwrap().len(), 2);
    assert_eq!(entry["anchor"]["subject"], "Service CA");
    assert_eq!(entry["anchor"]["spki_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(entry["tls"]["version"], "TLSv1.3");

    let baseline = format!("--baseline={}", file.display());
    let json = ["--format=json".to_string(), baseline.clone()];

    // Same server: every key matches.
    let same = setup.run(&["audit"], port, &json);
    assert_eq!(same.code, 0);
    assert!(has_code(&same.json()["targets"][0], "pin_match"));

    // A new leaf key under the same CA: a planned rotation, still a pass.
    server.swap(&ca.leaf(&[HOST], true));
    let run = setup.run(&["audit"], port, &json);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "pass");
    assert!(has_code(t, "pin_rotation"), "{t:#}");

    // A publicly valid chain from another CA: a substitution, which the baseline makes visible.
    server.swap(&other_public.leaf(&[HOST], true));
    let run = setup.run(&["audit"], port, &json);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "intercepted");
    assert!(has_code(t, "pin_mismatch"), "{t:#}");
    assert!(
        t["interception"]["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "pin_mismatch")
    );
    let message = message(t, "pin_mismatch").to_owned();
    assert!(
        message.contains("'Service CA' to 'Another Public CA'"),
        "{message}"
    );
    // The new chain is one devices accept: the explanation must not call its CA untrusted.
    let explanation = t["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("not the one the baseline recorded"),
        "{explanation}"
    );
    assert!(
        !explanation.contains("no public or Apple root trusts"),
        "{explanation}"
    );

    // The inspection box: intercepted with or without a baseline, and the baseline says why too.
    server.swap(&inspection.leaf(&[HOST], true));
    let t = setup.run(&["audit"], port, &json).json()["targets"][0].clone();
    assert_eq!(t["verdict"], "intercepted");
    assert!(has_code(&t, "pin_mismatch"));
}

#[test]
fn a_baseline_can_be_built_from_saved_results_and_skips_what_did_not_pass() {
    let ca = Ca::root("Service CA");
    let inspection = Ca::root("Corp Inspection CA");
    let setup = Setup::new(&[&ca], &inspection);
    let good = tls_server(&ca.leaf(&[HOST], true));
    let bad = tls_server(&inspection.leaf(&["albert.apple.com"], true));
    let results = setup.scratch.path("results.json");
    let run = setup.run(
        &["audit"],
        good,
        &[
            format!("albert.apple.com:{bad}"),
            resolve("albert.apple.com", bad),
            "--format=json".into(),
            format!("--output={}", results.display()),
        ],
    );
    assert_eq!(run.code, 1);
    let file = setup.scratch.path("from.json");
    let saved = pinscope([
        "baseline",
        "save",
        file.to_str().unwrap(),
        &format!("--from={}", results.display()),
    ]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    assert!(
        saved.stderr.contains("left out (not pass)") && saved.stderr.contains("albert.apple.com"),
        "{}",
        saved.stderr
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0]["host"], HOST);

    // The baseline built from results works like one saved from an audit.
    let again = setup.run(
        &["audit"],
        good,
        &[
            "--format=json".into(),
            format!("--baseline={}", file.display()),
        ],
    );
    assert!(has_code(&again.json()["targets"][0], "pin_match"));
}

#[test]
fn a_broken_baseline_is_a_usage_error_naming_the_line() {
    let scratch = Scratch::new();
    for (name, text, words) in [
        (
            "bad.json",
            "{\n  \"pinscope_baseline\": 1,\n  \"created_at\": 5\n}\n",
            "bad.json:3:",
        ),
        (
            "old.json",
            "{\"pinscope_baseline\": 9, \"created_at\": \"x\", \"tool_version\": \"x\", \"targets\": []}",
            "baseline format 9",
        ),
        (
            "extra.json",
            "{\"pinscope_baseline\": 1, \"created_at\": \"x\", \"tool_version\": \"x\", \"targets\": [], \"colour\": 1}",
            "unknown field `colour`",
        ),
    ] {
        let file = scratch.file(name, text);
        let run = pinscope([
            "audit",
            "albert.apple.com",
            &format!("--baseline={}", file.display()),
        ]);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(words), "{name}: {}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1);
    }
    let missing = pinscope([
        "audit",
        "albert.apple.com",
        "--baseline=/nonexistent/b.json",
    ]);
    assert_eq!(missing.code, 2);
    let unwritable = pinscope([
        "baseline",
        "save",
        "/nonexistent/b.json",
        "albert.apple.com",
    ]);
    assert_eq!(unwritable.code, 2);
    assert!(
        unwritable
            .stderr
            .contains("cannot write baseline /nonexistent/b.json"),
        "{}",
        unwritable.stderr
    );
    assert!(
        unwritable.stderr.contains("/nonexistent"),
        "{}",
        unwritable.stderr
    );
}
