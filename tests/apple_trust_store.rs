//! Apple's trust store: the embedded facts agree with Apple's data, hold what users rely on, and a
//! checkout that is missing or damaged is refused with the file at fault named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use pinscope::apple_store::{AppleTrustStore, LogState, RootKind};
use sha2::{Digest, Sha256};

const REFRESH: &str = "cargo run --example derive_apple_trust_store -- \
                       ../shared/reference/apple-trust-store data/apple_trust_store.json";

fn apple_dir() -> Option<PathBuf> {
    common::reference().map(|r| r.join("apple-trust-store"))
}

fn embedded() -> AppleTrustStore {
    AppleTrustStore::embedded().expect("the embedded Apple trust store parses")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first line where two JSON texts differ, for a message a person can act on.
fn first_difference(embedded: &str, reference: &str) -> Option<String> {
    let mut e = embedded.lines();
    let mut r = reference.lines();
    let mut n = 0;
    loop {
        n += 1;
        match (e.next(), r.next()) {
            (None, None) => return None,
            (a, b) if a == b => continue,
            (a, b) => {
                return Some(format!(
                    "line {n}: embedded {:?}, reference {:?}",
                    a.unwrap_or("(end)"),
                    b.unwrap_or("(end)")
                ));
            }
        }
    }
}

#[test]
fn embedded_data_equals_the_reference_checkout() {
    let Some(dir) = apple_dir() else { return };
    let loaded = AppleTrustStore::load_dir(&dir).expect("the reference checkout loads");
    let embedded = embedded();
    assert_eq!(embedded.source, "embedded");
    assert_eq!(loaded.source, dir.display().to_string());
    assert_eq!(
        first_difference(&embedded.to_json(), &loaded.to_json()),
        None,
        "data/apple_trust_store.json is out of date with {}: rerun `{REFRESH}` and commit the result",
        dir.display()
    );
    let mut loaded = loaded;
    loaded.source = embedded.source.clone();
    assert!(
        embedded == loaded,
        "the embedded facts differ from the reference checkout: rerun `{REFRESH}`"
    );
}

#[test]
fn version_and_counts() {
    let store = embedded();
    assert_eq!(store.version, 2025072000);
    assert_eq!(store.system_roots().count(), 156);
    assert_eq!(
        store
            .roots
            .iter()
            .filter(|r| r.kind == RootKind::Platform)
            .count(),
        11
    );
    assert_eq!(
        store
            .roots
            .iter()
            .filter(|r| r.kind == RootKind::Custom)
            .count(),
        121
    );
    // Every system root but the nine Apple Platform roots constrained to other policies.
    assert_eq!(
        store.roots.iter().filter(|r| r.trusted_for_tls()).count(),
        147
    );
    assert_eq!(store.apple_ca_roots.len(), 12);
    assert!(store.removed.len() > 200, "{}", store.removed.len());
}

fn root_named<'a>(store: &'a AppleTrustStore, name: &str) -> &'a pinscope::apple_store::StoreRoot {
    store
        .system_roots()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no system root named '{name}'"))
}

#[test]
fn roots_users_rely_on_are_trusted_for_tls() {
    let store = embedded();
    for name in [
        "DigiCert High Assurance EV Root CA",
        "AAA Certificate Services",
        "Apple Root CA",
        "ISRG Root X1",
    ] {
        let root = root_named(&store, name);
        assert!(root.trusted_for_tls(), "{name} should be trusted for TLS");
        let found = store.root_by_spki(&root.spki_sha256).unwrap();
        assert!(found.trusted_for_tls(), "{name} by SPKI");
    }
    // EV: DigiCert's EV root carries the CA/B Forum EV OID.
    let ev = root_named(&store, "DigiCert High Assurance EV Root CA");
    assert!(ev.ev_policies.iter().any(|p| p == "2.23.140.1.1"));
    // The public roots Apple's own CAs chain to include AAA Certificate Services.
    let aaa = root_named(&store, "AAA Certificate Services");
    assert!(store.is_apple_ca_root(&aaa.cert_sha256));
}

#[test]
fn apple_platform_roots_follow_their_constraints() {
    let store = embedded();
    // Constrained in the system section to SSL server/client (…1.3.1/…1.3.2), among others.
    let tls = root_named(&store, "Apple Platform TLS RSA Root CA - G1");
    assert!(tls.policies.iter().any(|p| p == "1.2.840.113635.100.1.3.1"));
    assert!(tls.trusted_for_tls());
    // Code signing only: not a TLS anchor.
    let code = root_named(&store, "Apple Platform Code Signing RSA Root CA - G1");
    assert!(!code.policies.is_empty());
    assert!(!code.trusted_for_tls());
    // The same certificate in platform/ is a separate entry with the platform constraints.
    let platform = store
        .roots
        .iter()
        .find(|r| r.kind == RootKind::Platform && r.cert_sha256 == tls.cert_sha256)
        .unwrap();
    assert_ne!(platform.policies, tls.policies);
    assert!(!platform.trusted_for_tls());
    // By SPKI, the TLS-trusted system entry is preferred.
    assert_eq!(
        store.root_by_spki(&tls.spki_sha256).unwrap().kind,
        RootKind::System
    );
    // GTS Root R1 is a system root (trusted for TLS) and a custom root for one Apple policy.
    let gts: Vec<_> = store
        .roots
        .iter()
        .filter(|r| r.name == "GTS Root R1")
        .collect();
    assert_eq!(gts.len(), 2);
    assert!(
        gts.iter()
            .any(|r| r.kind == RootKind::System && r.trusted_for_tls())
    );
    assert!(
        gts.iter()
            .any(|r| r.kind == RootKind::Custom && !r.trusted_for_tls())
    );
}

#[test]
fn removed_roots_are_found_by_key() {
    let store = embedded();
    let dst = store
        .removed
        .iter()
        .find(|r| r.name == "DST Root CA X3" && !r.intermediate)
        .expect("DST Root CA X3 is among the removed roots");
    let found = store.removed_by_spki(&dst.spki_sha256).unwrap();
    assert_eq!(found.name, "DST Root CA X3");
    assert!(store.root_by_spki(&dst.spki_sha256).is_none());
    assert!(store.removed.iter().any(|r| r.intermediate));
    assert!(store.removed_by_spki(&"0".repeat(64)).is_none());

    // Independently of the loader: every certificate file in removed/ is found by its key.
    let Some(dir) = apple_dir() else { return };
    let removed = dir.join("certificates/removed");
    let mut checked = 0;
    for entry in std::fs::read_dir(&removed).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let der = std::fs::read(&path).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let spki = hex(&Sha256::digest(cert.tbs_certificate.subject_pki.raw));
        assert!(
            store.removed_by_spki(&spki).is_some(),
            "{} not found by its SPKI {spki}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked > 200, "{checked}");
}

#[test]
fn ct_log_list_has_the_known_operators() {
    let store = embedded();
    assert!(store.ct_logs.len() > 50, "{}", store.ct_logs.len());
    assert_eq!(store.ct_log_list_version, "375");
    for op in [
        "Google",
        "Cloudflare",
        "DigiCert",
        "Sectigo",
        "Let's Encrypt",
    ] {
        assert!(
            store
                .ct_logs
                .iter()
                .any(|l| l.operator == op && matches!(l.state, LogState::Usable)),
            "no usable log of {op}"
        );
    }
    for log in &store.ct_logs {
        assert_eq!(
            Sha256::digest(&log.key_der).as_slice(),
            log.log_id,
            "{}",
            log.description
        );
        if let Some((start, end)) = log.temporal_interval {
            assert!(start < end, "{}", log.description);
        }
    }
    // Tiled (static CT API) logs are read too.
    let tiled = store
        .ct_logs
        .iter()
        .filter(|l| l.operator == "Geomys")
        .count();
    assert_eq!(tiled, 5);
    assert!(store.ct_logs.iter().all(|l| l.state_since.is_some()));
}

#[test]
fn tls_anchors_are_the_tls_trusted_roots_as_webpki_reads_them() {
    let store = embedded();
    let anchors = store.tls_anchors();
    let trusted: Vec<_> = store.roots.iter().filter(|r| r.trusted_for_tls()).collect();
    assert_eq!(anchors.len(), trusted.len());

    let Some(dir) = apple_dir() else { return };
    // Each anchor is exactly what webpki makes of the certificate file.
    for (root, anchor) in trusted.iter().zip(&anchors) {
        let path = dir
            .join("certificates")
            .join(root.kind.folder())
            .join(format!("{}.cer", root.cert_sha256.to_ascii_uppercase()));
        let der = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (root '{}')", path.display(), root.name));
        let cert = rustls_pki_types::CertificateDer::from(der);
        let expected = webpki::anchor_from_trusted_cert(&cert).unwrap();
        assert_eq!(
            anchor.subject.as_ref(),
            expected.subject.as_ref(),
            "{}",
            root.name
        );
        assert_eq!(
            anchor.subject_public_key_info.as_ref(),
            expected.subject_public_key_info.as_ref(),
            "{}",
            root.name
        );
        assert_eq!(
            anchor
                .name_constraints
                .as_ref()
                .map(|d| d.as_ref().to_vec()),
            expected
                .name_constraints
                .as_ref()
                .map(|d| d.as_ref().to_vec()),
            "{}",
            root.name
        );
    }
}

#[test]
fn missing_directory_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-checkout");
    let err = AppleTrustStore::load_dir(&missing).unwrap_err();
    assert_eq!(err.file, missing.display().to_string());
    assert!(err.to_string().contains("no-such-checkout"), "{err}");

    // A directory without the layout names the first file it lacks.
    let err = AppleTrustStore::load_dir(tmp.path()).unwrap_err();
    assert!(err.file.ends_with("AssetVersion.plist"), "{err}");
}

/// A copy of the reference checkout to damage.
fn copy_of_reference() -> Option<(tempfile::TempDir, PathBuf)> {
    let dir = apple_dir()?;
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("apple-trust-store");
    common::copy_dir(&dir, &copy);
    Some((tmp, copy))
}

#[test]
fn damaged_checkouts_are_refused_naming_the_file() {
    let Some((_tmp, copy)) = copy_of_reference() else {
        return;
    };
    // Files that are not certificates are skipped.
    std::fs::write(copy.join("certificates/roots/README"), "not a cert").unwrap();
    std::fs::write(copy.join("certificates/roots/.DS_Store"), [0u8, 1, 2]).unwrap();
    let good = AppleTrustStore::load_dir(&copy).expect("extra non-certificate files are skipped");
    assert_eq!(good.system_roots().count(), 156);

    // A certificate file that does not parse.
    let roots = copy.join("certificates/roots");
    let victim = std::fs::read_dir(&roots)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cer"))
        .unwrap();
    let der = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &der[..der.len() / 2]).unwrap();
    let err = AppleTrustStore::load_dir(&copy).unwrap_err();
    assert_eq!(err.file, victim.display().to_string(), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    std::fs::write(&victim, &der).unwrap();

    // A log list that is not JSON, then one whose log has a bad key.
    let log_list = copy.join("certificate_transparency/log_list.json");
    let text = std::fs::read_to_string(&log_list).unwrap();
    std::fs::write(&log_list, &text[..text.len() / 2]).unwrap();
    let err = AppleTrustStore::load_dir(&copy).unwrap_err();
    assert!(err.file.ends_with("log_list.json"), "{err}");
    assert!(err.to_string().contains("log_list.json"), "{err}");

    let mut list: serde_json::Value = serde_json::from_str(&text).unwrap();
    list["operators"][1]["logs"][0]["key"] = "!!not base64!!".into();
    std::fs::write(&log_list, list.to_string()).unwrap();
    let err = AppleTrustStore::load_dir(&copy).unwrap_err();
    assert!(err.file.ends_with("log_list.json"), "{err}");
    assert!(err.message.contains("key is not base64"), "{err}");
    std::fs::write(&log_list, &text).unwrap();

    // A constraints file with a value that is not an OID.
    let constraints = copy.join("certificates/constraints.json");
    let text = std::fs::read_to_string(&constraints).unwrap();
    let mut c: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = c["system"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    c["system"][&first] = serde_json::json!(["ssl"]);
    std::fs::write(&constraints, c.to_string()).unwrap();
    let err = AppleTrustStore::load_dir(&copy).unwrap_err();
    assert!(err.file.ends_with("constraints.json"), "{err}");
    std::fs::write(&constraints, &text).unwrap();

    // Restored, the copy loads to the same facts as the original.
    let restored = AppleTrustStore::load_dir(&copy).unwrap();
    assert_eq!(restored.to_json(), embedded().to_json());
}
