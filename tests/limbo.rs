//! The x509-limbo path-validation suite (`../shared/reference/x509-limbo/limbo.json`), run through
//! the built binary as `pinscope inspect CHAIN --roots TRUSTED --host NAME [--at TIME]`.
//!
//! The binary, not the library, so that what is measured is what a user gets: `--roots` (exact
//! anchors, no webpki-roots, no native store, no known Apple keys), the PEM loader and the verdict.
//! Each case is bounded in time; a panic (exit 101), a hang or an unlisted disagreement fails the
//! test, and so does an exception in `fixtures/limbo-exceptions.toml` for a case that now agrees.
//! See docs/robustness.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Far more than a case needs (tens of milliseconds); a case that takes longer hangs.
const CASE_LIMIT: Duration = Duration::from_secs(30);

#[derive(serde::Deserialize)]
struct Exceptions {
    #[serde(default)]
    exception: Vec<Exception>,
}

#[derive(serde::Deserialize)]
struct Exception {
    id: String,
    category: String,
    reason: String,
}

fn pem_strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn load_exceptions() -> BTreeMap<String, Exception> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/limbo-exceptions.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed: Exceptions = toml::from_str(&text).unwrap();
    let mut out = BTreeMap::new();
    for e in parsed.exception {
        assert!(
            !e.reason.trim().is_empty() && !e.category.trim().is_empty(),
            "exception {} needs a category and a reason",
            e.id
        );
        let id = e.id.clone();
        assert!(out.insert(id.clone(), e).is_none(), "exception {id} twice");
    }
    out
}

#[test]
fn limbo_agreement() {
    let Some(reference) = reference() else { return };
    let path = reference.join("x509-limbo/limbo.json");
    let suite: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let exceptions = load_exceptions();
    let scratch = Scratch::new();

    let mut skipped: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut agree = 0usize;
    let mut ran = 0usize;
    let mut unlisted = Vec::new();
    let mut excused: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen_exceptions = BTreeSet::new();
    let mut stale = Vec::new();
    let mut slowest = Duration::ZERO;
    // expected_result -> (agreeing, run)
    let mut by_expectation: BTreeMap<&str, (usize, usize)> = BTreeMap::new();

    // (id, arguments, limbo's expected_result) for every case that is run.
    let mut cases = Vec::new();
    for (n, case) in suite["testcases"].as_array().unwrap().iter().enumerate() {
        let id = case["id"].as_str().unwrap();
        if case["validation_kind"] != "SERVER" {
            *skipped.entry("validation_kind is not SERVER").or_default() += 1;
            continue;
        }
        let name = &case["expected_peer_name"];
        if !matches!(name["kind"].as_str(), Some("DNS" | "IP")) {
            *skipped
                .entry("no DNS or IP expected_peer_name")
                .or_default() += 1;
            continue;
        }
        let trusted = pem_strings(&case["trusted_certs"]);
        if trusted.is_empty() {
            *skipped.entry("no trusted_certs").or_default() += 1;
            continue;
        }
        let mut chain = vec![case["peer_certificate"].as_str().unwrap().to_owned()];
        chain.extend(pem_strings(&case["untrusted_intermediates"]));
        let roots = scratch.file(&format!("{n}-roots.pem"), &trusted.join("\n"));
        let chain = scratch.file(&format!("{n}-chain.pem"), &chain.join("\n"));
        let mut args: Vec<std::ffi::OsString> = vec![
            "inspect".into(),
            chain.into(),
            format!("--roots={}", roots.display()).into(),
            format!("--host={}", name["value"].as_str().unwrap()).into(),
            "--format=json".into(),
        ];
        if let Some(at) = case["validation_time"].as_str() {
            args.push(format!("--at={at}").into());
        }
        cases.push((id, args, case["expected_result"].as_str().unwrap_or("")));
    }

    // Each case is its own process, so they can run side by side.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<(Run, Duration)>>> =
        cases.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get().min(16));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((_, args, _)) = cases.get(i) else {
                        break;
                    };
                    let started = Instant::now();
                    let out = pinscope_within(args, CASE_LIMIT);
                    *results[i].lock().unwrap() = Some((out, started.elapsed()));
                }
            });
        }
    });

    for ((id, _, expected_result), result) in cases.iter().zip(results) {
        let id = *id;
        let (out, took) = result.into_inner().unwrap().unwrap();
        slowest = slowest.max(took);
        ran += 1;
        assert!(
            matches!(out.code, 0..=3),
            "{id}: exit {} (a panic is 101)\nstderr: {}",
            out.code,
            out.stderr
        );
        // Exit 2 is pinscope refusing the input (a certificate that cannot be an anchor, a chain
        // that does not parse): the chain is not accepted.
        let (pass, detail) = if out.code == 2 {
            (false, format!("input refused: {}", out.stderr.trim()))
        } else {
            let json: serde_json::Value = serde_json::from_str(&out.stdout)
                .unwrap_or_else(|e| panic!("{id}: stdout is not JSON ({e}): {}", out.stdout));
            let t = &json["targets"][0];
            let codes: Vec<String> = t["findings"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f["code"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (
                t["verdict"] == "pass",
                format!("{} [{}]", t["verdict"], codes.join(", ")),
            )
        };
        let expected = *expected_result == "SUCCESS";
        let agrees = pass == expected;
        let tally = by_expectation.entry(*expected_result).or_default();
        tally.0 += usize::from(agrees);
        tally.1 += 1;
        match (agrees, exceptions.get(id)) {
            (true, None) => agree += 1,
            (true, Some(_)) => {
                agree += 1;
                stale.push(id.to_owned());
            }
            (false, Some(e)) => {
                seen_exceptions.insert(id.to_owned());
                *excused.entry(e.category.clone()).or_default() += 1;
            }
            (false, None) => unlisted.push(format!(
                "{id}: limbo expects {expected_result}, pinscope says {detail}"
            )),
        }
    }
    let missing: Vec<&String> = exceptions
        .keys()
        .filter(|id| !seen_exceptions.contains(*id) && !stale.contains(id))
        .collect();

    eprintln!(
        "x509-limbo: {agree}/{ran} cases agree ({:.1}%), {} disagree (each listed in fixtures/limbo-exceptions.toml), slowest case {slowest:?}",
        100.0 * agree as f64 / ran.max(1) as f64,
        ran - agree,
    );
    for (expected, (agreeing, of)) in &by_expectation {
        eprintln!("  limbo {expected}: pinscope agrees on {agreeing}/{of}");
    }
    for (category, n) in &excused {
        eprintln!("  exception {category}: {n}");
    }
    for (reason, n) in &skipped {
        eprintln!("  skipped ({reason}): {n}");
    }
    assert!(
        unlisted.is_empty(),
        "{} disagreements not in fixtures/limbo-exceptions.toml:\n{}",
        unlisted.len(),
        unlisted.join("\n")
    );
    assert!(
        stale.is_empty(),
        "these exceptions now agree with limbo; remove them: {stale:?}"
    );
    assert!(
        missing.is_empty(),
        "these exceptions name no SERVER case that was run: {missing:?}"
    );
}

#[test]
fn roots_flag_rejects_bad_files_in_one_line() {
    let scratch = Scratch::new();
    let ca = Ca::root("Lab Root");
    let chain = scratch.file("chain.pem", &ca.leaf(&["a.example"], true).pem);
    let junk = scratch.file("junk.pem", "not a certificate\n");
    let empty = scratch.file("empty.pem", "");
    let missing = scratch.path("missing.pem");
    for bad in [&junk, &empty, &missing] {
        let run = pinscope([
            "inspect".into(),
            chain.clone().into_os_string(),
            format!("--roots={}", bad.display()).into(),
            "--host=a.example".into(),
        ] as [std::ffi::OsString; 4]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr.contains(&bad.display().to_string()),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn roots_flag_is_exact() {
    let scratch = Scratch::new();
    let lab = Ca::root("Lab Root");
    let other = Ca::root("Other Root");
    let chain = scratch.file("chain.pem", &lab.leaf(&["a.example"], true).pem);
    let lab_pem = scratch.file("lab.pem", &lab.pem);
    let other_pem = scratch.file("other.pem", &other.pem);
    let judge = |roots: &[&std::path::PathBuf]| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "inspect".into(),
            chain.clone().into(),
            "--host=a.example".into(),
            "--format=json".into(),
        ];
        args.extend(
            roots
                .iter()
                .map(|r| format!("--roots={}", r.display()).into()),
        );
        let run = pinscope(args);
        run.json()["targets"][0]["verdict"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(judge(&[&lab_pem]), "pass");
    assert_eq!(judge(&[&other_pem, &lab_pem]), "pass", "repeatable");
    // Only the given anchors count: the same chain under another root is not accepted, and
    // SSL_CERT_FILE (the native store) is not consulted.
    assert_ne!(judge(&[&other_pem]), "pass");
    let out = pinscope_command()
        .arg("inspect")
        .arg(&chain)
        .arg(format!("--roots={}", other_pem.display()))
        .args(["--host=a.example", "--format=json"])
        .env("SSL_CERT_FILE", &lab_pem)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &json["targets"][0];
    assert_ne!(t["verdict"], "pass", "{t:#}");
    assert!(
        !has_code(t, "anchor_native_only"),
        "with --roots, the native store (SSL_CERT_FILE) is not read: {t:#}"
    );
    let run = pinscope([
        "inspect".into(),
        chain.clone().into_os_string(),
        format!("--roots={}", lab_pem.display()).into(),
        format!("--public-roots={}", lab_pem.display()).into(),
        "--host=a.example".into(),
    ] as [std::ffi::OsString; 5]);
    assert_eq!(run.code, 2, "--roots excludes the other trust flags");
}

/// A CA key rollover (a self-issued certificate: same name, new key) is a chain the validator
/// refuses, but not a forgery: it must never be called intercepted.
#[test]
fn a_key_rollover_chain_is_untrusted_not_intercepted() {
    let Some(reference) = reference() else { return };
    let limbo: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reference.join("x509-limbo/limbo.json")).unwrap(),
    )
    .unwrap();
    let scratch = Scratch::new();
    for id in [
        "pathlen::self-issued-certs-pathlen",
        "rfc5280::nc::permitted-self-issued",
    ] {
        let case = limbo["testcases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in limbo.json"));
        let mut chain = case["peer_certificate"].as_str().unwrap().to_owned();
        chain.extend(pem_strings(&case["untrusted_intermediates"]));
        let chain = scratch.file("chain.pem", &chain);
        let roots = scratch.file("roots.pem", &pem_strings(&case["trusted_certs"]).concat());
        let run = pinscope([
            "inspect".to_string(),
            chain.display().to_string(),
            format!("--roots={}", roots.display()),
            format!(
                "--host={}",
                case["expected_peer_name"]["value"].as_str().unwrap()
            ),
            "--format=json".into(),
        ]);
        let t = &run.json()["targets"][0];
        assert_eq!(t["verdict"], "untrusted", "{id}: {t:#}");
        assert!(t["interception"].is_null(), "{id}");
        assert!(
            t["findings"][0]["message"]
                .as_str()
                .unwrap()
                .contains("key rollover"),
            "{id}: {t:#}"
        );
    }
}
