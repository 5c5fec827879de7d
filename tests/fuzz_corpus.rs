//! Replays every file under `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/` through the
//! function the cargo-fuzz target of that name calls (`pinscope::fuzzing`), so seeds and the
//! crashes the fuzzer once found stay regular tests: none may panic, and each must finish quickly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use pinscope::fuzzing::TARGETS;

use common::*;
use rcgen::{CertificateParams, Issuer, KeyPair};

/// Generous for a debug build; an input that takes longer is a hang to fix.
const INPUT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn every_corpus_and_artifact_input_is_handled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (name, run) in TARGETS {
        let mut seeds = 0;
        for kind in ["corpus", "artifacts"] {
            let dir = root.join(kind).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                assert_eq!(kind, "artifacts", "{} is missing", dir.display());
                continue;
            };
            let mut paths: Vec<_> = entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file() && !p.ends_with(".gitkeep"))
                .collect();
            paths.sort();
            for path in paths {
                let data = std::fs::read(&path).unwrap();
                let started = Instant::now();
                let outcome = std::panic::catch_unwind(|| run(&data));
                let took = started.elapsed();
                assert!(outcome.is_ok(), "{name}: {} panics", path.display());
                assert!(
                    took < INPUT_LIMIT,
                    "{name}: {} took {took:?}",
                    path.display()
                );
                replayed += 1;
                seeds += usize::from(kind == "corpus");
            }
        }
        assert!(seeds > 0, "fuzz/corpus/{name} has no seed");
    }
    eprintln!("replayed {replayed} fuzz inputs");
}

#[test]
fn fuzz_targets_match_the_entry_points() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    for (name, _) in TARGETS {
        let text = std::fs::read_to_string(dir.join(format!("{name}.rs"))).unwrap();
        assert!(
            text.contains(&format!("pinscope::fuzzing::{name}(data)")),
            "fuzz/fuzz_targets/{name}.rs does not call pinscope::fuzzing::{name}"
        );
    }
}

/// Runs `inspect` on a chain file against exactly `roots`, within a time bound; returns the verdict
/// the finding codes and the first finding's message.
fn inspect_bounded(chain: &Path, roots: &Path, host: &str) -> (String, Vec<String>, String) {
    let run = pinscope([
        "inspect".into(),
        chain.as_os_str().to_owned(),
        format!("--roots={}", roots.display()).into(),
        format!("--host={host}").into(),
        "--format=json".into(),
    ] as [std::ffi::OsString; 5]);
    assert!(
        run.elapsed < Duration::from_secs(30),
        "inspect took {:?}",
        run.elapsed
    );
    assert!(
        matches!(run.code, 0..=3),
        "exit {}: {}",
        run.code,
        run.stderr
    );
    let json = run.json();
    let t = &json["targets"][0];
    let message = t["findings"][0]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    (t["verdict"].as_str().unwrap().to_owned(), codes(t), message)
}

#[test]
fn a_chain_of_500_certificates_is_judged_quickly() {
    let scratch = Scratch::new();
    let mut cas = vec![Ca::root("Deep Root")];
    for i in 0..498 {
        let next = cas
            .last()
            .unwrap()
            .intermediate(&format!("Deep CA {i}"), "lab", Vec::new());
        cas.push(next);
    }
    let leaf = cas.last().unwrap().leaf(&["deep.example"], false);
    let mut pem = leaf.pem.clone();
    for ca in cas.iter().rev() {
        pem.push_str(&ca.pem);
    }
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 500);
    let chain = scratch.file("chain.pem", &pem);
    let roots = scratch.file("roots.pem", &cas[0].pem);
    let (verdict, codes, message) = inspect_bounded(&chain, &roots, "deep.example");
    assert_eq!(verdict, "untrusted", "{codes:?}");
    assert_eq!(codes, ["chain_invalid"]);
    assert!(message.contains("500 certificates"), "{message}");
}

#[test]
fn a_1_mib_certificate_is_judged_quickly() {
    let scratch = Scratch::new();
    let root = Ca::root("Big Root");
    let size: usize = 1 << 20;
    let big = padding(size);
    let leaf = root.leaf_with(&["big.example"], vec![big], vec![&root]);
    assert!(leaf.chain[0].len() > size);
    let chain = scratch.file("chain.pem", &leaf.pem);
    let roots = scratch.file("roots.pem", &root.pem);
    let (verdict, codes, message) = inspect_bounded(&chain, &roots, "big.example");
    assert_eq!(verdict, "untrusted", "{codes:?}");
    assert_eq!(codes, ["chain_invalid"]);
    assert!(message.contains("certificate 0"), "{message}");
}

#[test]
fn a_chain_with_a_loop_terminates() {
    let scratch = Scratch::new();
    // A and B each certify the other: a path builder that follows issuers without remembering
    // where it has been goes round forever.
    let (ka, kb) = (KeyPair::generate().unwrap(), KeyPair::generate().unwrap());
    let (pa, pb) = (
        ca_params("Loop A", "lab", Vec::new()),
        ca_params("Loop B", "lab", Vec::new()),
    );
    let a_by_b = pa
        .signed_by(&ka, &Issuer::from_params(&pb, &kb))
        .unwrap()
        .pem();
    let b_by_a = pb
        .signed_by(&kb, &Issuer::from_params(&pa, &ka))
        .unwrap()
        .pem();
    let mut leaf_params = CertificateParams::new(vec!["loop.example".to_owned()]).unwrap();
    leaf_params.not_before = pa.not_before;
    leaf_params.not_after = pa.not_after;
    let leaf = leaf_params
        .signed_by(
            &KeyPair::generate().unwrap(),
            &Issuer::from_params(&pa, &ka),
        )
        .unwrap()
        .pem();
    let chain = scratch.file(
        "chain.pem",
        &[leaf, a_by_b.clone(), b_by_a.clone(), a_by_b, b_by_a].concat(),
    );
    let unrelated = scratch.file("roots.pem", &Ca::root("Unrelated Root").pem);
    let (verdict, codes, _) = inspect_bounded(&chain, &unrelated, "loop.example");
    assert_ne!(verdict, "pass", "{codes:?}");
}

#[test]
fn a_chain_over_the_byte_budget_is_refused() {
    let scratch = Scratch::new();
    let root = Ca::root("Heavy Root");
    // Five certificates of 60 KiB each: every one is within the per-certificate budget, the
    // chain is not.
    let mut pem = root
        .leaf_with(&["heavy.example"], vec![padding(60 * 1024)], vec![])
        .pem;
    for i in 0..4 {
        let ca = Ca::root_with(&format!("Heavy CA {i}"), "lab", vec![padding(60 * 1024)]);
        pem.push_str(&ca.pem);
    }
    let chain = scratch.file("chain.pem", &pem);
    let roots = scratch.file("roots.pem", &root.pem);
    let (verdict, codes, message) = inspect_bounded(&chain, &roots, "heavy.example");
    assert_eq!(verdict, "untrusted", "{codes:?}");
    assert!(
        message.contains("bytes; pinscope judges chains of at most"),
        "{message}"
    );
}
