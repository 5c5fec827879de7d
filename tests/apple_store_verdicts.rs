//! Verdicts judged as an Apple device judges: against Apple's own trust store (built in), on genuine
//! chains Apple's servers presented, on a machine whose own stores lack their roots; and forgeries
//! built the way real products build theirs (SHA-1 and RSA-1024 CAs, `openssl req -x509`
//! self-signed CA certificates, CAs that reuse their key, gateway CAs that are not sent).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use pinscope::analysis::chain;
use pinscope::analysis::signed_path::{self, PathEnd};
use pinscope::analysis::trust::{RootSet, TrustContext};
use pinscope::apple_store::AppleTrustStore;
use rustls_pki_types::CertificateDer;

/// `pinscope inspect` with JSON output; returns the exit code and the one target.
fn inspect(args: &[String]) -> (i32, serde_json::Value) {
    let mut all = vec!["inspect".to_string(), "--format=json".to_string()];
    all.extend(args.iter().cloned());
    first_target(&all)
}

/// A root that has nothing to do with any chain here: this machine's store, as on a Linux box or
/// a Mac whose keychain holds none of the roots involved.
fn unrelated(scratch: &Scratch) -> String {
    let root = Ca::root("Unrelated Lab Root");
    format!(
        "--native-roots={}",
        scratch.file("unrelated.pem", &root.pem).display()
    )
}

/// Genuine chains that Apple's servers presented pass on a machine whose own store holds none of
/// their roots, and whose public roots (Mozilla's) lack some of them: the device's view is Apple's
/// store, not this machine's.
#[test]
fn genuine_apple_chains_pass_without_any_local_root() {
    let Some(reference) = reference() else { return };
    let scratch = Scratch::new();
    let cases = [
        // Apple Root CA, GS pinning policy.
        (
            "gsa",
            "AppleServerAuthentication",
            "gsa.apple.com",
            "2018-06-01T00:00:00Z",
        ),
        // AAA Certificate Services: in Apple's store, gone from Mozilla's; CT required and met.
        (
            "api-smoot",
            "ApplePublicServerRSA12-G1",
            "api.smoot.apple.com",
            "2024-12-01T00:00:00Z",
        ),
        // Apple Root CA through Apple IST CA 2 - G1.
        (
            "escrowproxy",
            "AppleISTCA2G1",
            "p13-escrowproxy.icloud.com",
            "2022-12-01T00:00:00Z",
        ),
        (
            "ckdatabasews",
            "AppleISTCA2G1",
            "p02-ckdatabasews.icloud.com",
            "2022-06-01T00:00:00Z",
        ),
    ];
    for (leaf, intermediate, host, at) in cases {
        let (code, t) = inspect(&[
            apple_pki(&reference, leaf),
            apple_pki(&reference, intermediate),
            format!("--host={host}"),
            format!("--at={at}"),
            unrelated(&scratch),
        ]);
        assert_eq!(t["verdict"], "pass", "{leaf} for {host}: {t:#}");
        assert_eq!(code, 0, "{leaf}");
        for bad in [
            "apple_names_copied",
            "unexpected_issuer",
            "ct_not_compliant",
            "anchor_native_only",
        ] {
            assert!(!has_code(&t, bad), "{leaf}: unexpected {bad}: {t:#}");
        }
        let views = &t["trust_views"];
        assert_eq!(
            views["apple_devices"]["accepted"], true,
            "{leaf}: {views:#}"
        );
        assert_eq!(
            views["this_machine"]["accepted"], false,
            "{leaf}: {views:#}"
        );
    }
}

/// The AAA-anchored chain is the one Mozilla-based clients refuse: its row says so, as
/// information, and the device view still passes it, with its SCTs verified against Apple's logs.
#[test]
fn a_root_only_apple_keeps_is_reported_as_a_difference_not_a_failure() {
    let Some(reference) = reference() else { return };
    let (_, t) = inspect(&[
        apple_pki(&reference, "api-smoot"),
        apple_pki(&reference, "ApplePublicServerRSA12-G1"),
        "--host=api.smoot.apple.com".into(),
        "--at=2024-12-01T00:00:00Z".into(),
    ]);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["anchor"], "AAA Certificate Services");
    assert_eq!(t["trust_views"]["public_clients"]["accepted"], false);
    assert_eq!(severity(&t, "public_clients_refuse"), "info");
    let ct = &t["certificate_transparency"];
    assert_eq!(ct["compliant"], true, "{ct:#}");
    assert!(ct["verified"].as_u64().unwrap() >= 2, "{ct:#}");
    assert_eq!(severity(&t, "ct_compliant"), "info");
}

fn der(reference: &Path, name: &str) -> CertificateDer<'static> {
    CertificateDer::from(std::fs::read(apple_pki(reference, name)).unwrap())
}

fn trust_with_only_public_mozilla() -> TrustContext {
    let apple = AppleTrustStore::embedded().unwrap();
    TrustContext {
        public: RootSet::webpki_roots(),
        native: RootSet::empty("native store (empty)"),
        device: RootSet::from_anchors("Apple's trust store", apple.tls_anchors()),
        transparent: RootSet::empty("transparent-connection CAs"),
        apple: std::sync::Arc::new(apple),
    }
}

/// Apple's CA certificates that chain to public roots Mozilla no longer carries lead, by their
/// signatures, to a root of Apple's store.
#[test]
fn apples_public_intermediates_end_at_roots_of_apples_store() {
    let Some(reference) = reference() else { return };
    let trust = trust_with_only_public_mozilla();
    let cases = [
        ("DigiCertSHA2EV", "DigiCert High Assurance EV Root CA"),
        ("AppleISTCA8G1-DigiCert", "DigiCert Global Root G3"),
        ("ApplePublicServerRSA12-G1", "AAA Certificate Services"),
        ("AppleServerAuthentication", "Apple Root CA"),
    ];
    for (name, root) in cases {
        let cert = der(&reference, name);
        let facts = vec![chain::facts(&cert)];
        let path = signed_path::follow(&facts, &[cert.as_ref()], &trust);
        match &path.end {
            PathEnd::Anchor {
                name: n, stores, ..
            } => {
                assert_eq!(n, root, "{name}");
                assert!(stores.device, "{name}: {root} should be in Apple's store");
            }
            other => panic!("{name}: expected to end at {root}, got {other:?}"),
        }
    }
}

/// A lab root given as Apple's store (`--apple-trust-store`) is what devices trust: a chain under
/// it passes, and the genuine Apple chain no longer does.
#[test]
fn apple_trust_store_dir_replaces_the_built_in_store() {
    let Some(reference) = reference() else { return };
    let scratch = Scratch::new();
    let store = scratch.path("store");
    // The layout of Apple's security_certificates data, with one root: a lab's.
    for dir in [
        "certificates/roots",
        "certificates/removed/intermediates",
        "certificates/platform",
        "certificates/custom",
        "config",
        "TrustSupplementalsAsset",
        "certificate_transparency",
    ] {
        std::fs::create_dir_all(store.join(dir)).unwrap();
    }
    let src = reference.join("apple-trust-store");
    for file in [
        "config/AssetVersion.plist",
        "TrustSupplementalsAsset/AppleCertificateAuthorities.plist",
        "certificate_transparency/log_list.json",
        "certificates/EVRoots.json",
    ] {
        if src.join(file).is_file() {
            std::fs::copy(src.join(file), store.join(file)).unwrap();
        }
    }
    for file in ["constraints.json", "hash_to_human_name.json"] {
        for dir in ["certificates", "."] {
            let from = src.join(dir).join(file);
            if from.is_file() {
                std::fs::copy(&from, store.join(dir).join(file)).unwrap();
            }
        }
    }
    let lab = Ca::root("Lab Device Root");
    std::fs::write(
        store.join("certificates/roots/LabDeviceRoot.cer"),
        lab.cert_der.as_ref(),
    )
    .unwrap();
    let leaf = lab.leaf(&["lab.example.com"], true);
    let chain = scratch.file("lab.pem", &leaf.pem);
    let store_flag = format!("--apple-trust-store={}", store.display());
    let (code, t) = inspect(&[
        chain.display().to_string(),
        "--host=lab.example.com".into(),
        store_flag.clone(),
        unrelated(&scratch),
    ]);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(code, 0);
    let (_, t) = inspect(&[
        apple_pki(&reference, "api-smoot"),
        apple_pki(&reference, "ApplePublicServerRSA12-G1"),
        "--host=api.smoot.apple.com".into(),
        "--at=2024-12-01T00:00:00Z".into(),
        store_flag,
        unrelated(&scratch),
    ]);
    assert_ne!(t["verdict"], "pass", "{t:#}");
    // A folder that is not Apple's layout is an input error naming it.
    let run = pinscope([
        "inspect",
        chain.to_str().unwrap(),
        "--host=lab.example.com",
        &format!("--apple-trust-store={}", scratch.path("nowhere").display()),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);
}

/// A Superfish-style product: an RSA-1024 CA that signs SHA-1 leaves. Who signed what is decided
/// by the signatures, so the evidence is true whether the CA is sent or not and whether this
/// machine trusts it; the weak algorithms are reported on their own.
#[test]
fn a_sha1_rsa1024_interception_ca_is_named_with_true_evidence() {
    let Some(reference) = reference() else { return };
    if require_tool("openssl", "PINSCOPE_REQUIRE_OPENSSL").is_none() {
        return;
    }
    let scratch = Scratch::new();
    let dir = scratch.dir.path();
    let ca_crt = reference.join("interception-cas/ca-superfish.crt");
    let ca_key = reference.join("interception-cas/ca-superfish.key");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-subj",
            "/CN=gdmf.apple.com",
            "-out",
            "leaf.csr",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:gdmf.apple.com\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            ca_crt.to_str().unwrap(),
            "-CAkey",
            ca_key.to_str().unwrap(),
            "-CAcreateserial",
            "-sha1",
            "-days",
            "30",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );
    let leaf = dir.join("leaf.pem").display().to_string();
    let ca = ca_crt.display().to_string();
    let native = format!("--native-roots={ca}");
    let none = unrelated(&scratch);
    for (sent, trusted) in [(true, true), (false, true), (true, false), (false, false)] {
        let mut args = vec![leaf.clone()];
        if sent {
            args.push(ca.clone());
        }
        args.push("--host=gdmf.apple.com".into());
        args.push(if trusted {
            native.clone()
        } else {
            none.clone()
        });
        let (code, t) = inspect(&args);
        let case = format!("CA sent: {sent}, trusted here: {trusted}");
        assert_eq!(t["verdict"], "intercepted", "{case}: {t:#}");
        assert_eq!(code, 1, "{case}");
        assert_eq!(t["interception"]["product"], "Superfish", "{case}: {t:#}");
        assert!(
            !has_code(&t, "issuer_signature_mismatch"),
            "{case}: the CA did sign the leaf: {t:#}"
        );
        if trusted {
            assert!(has_code(&t, "anchor_native_only"), "{case}: {t:#}");
            assert!(!has_code(&t, "anchor_in_no_store"), "{case}: {t:#}");
        } else if sent {
            assert!(has_code(&t, "anchor_in_no_store"), "{case}: {t:#}");
        }
        // The CA's key is known when it was sent or a store holds it.
        if sent || trusted {
            assert_eq!(severity(&t, "weak_key"), "warning", "{case}");
        }
        assert_eq!(
            severity(&t, "weak_signature_algorithm"),
            "warning",
            "{case}"
        );
    }
}

/// `openssl req -x509` makes a self-signed certificate marked CA:TRUE; some appliances serve
/// exactly that for every host. It is interception whether or not this machine trusts it.
#[test]
fn an_openssl_req_x509_certificate_is_interception() {
    if require_tool("openssl", "PINSCOPE_REQUIRE_OPENSSL").is_none() {
        return;
    }
    let scratch = Scratch::new();
    let dir = scratch.dir.path();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "self.key",
            "-subj",
            "/CN=gdmf.apple.com",
            "-addext",
            "subjectAltName=DNS:gdmf.apple.com",
            "-days",
            "30",
            "-out",
            "self.pem",
        ],
    );
    let cert = dir.join("self.pem").display().to_string();
    let (code, t) = inspect(&[
        cert.clone(),
        "--host=gdmf.apple.com".into(),
        format!("--native-roots={cert}"),
    ]);
    assert_eq!(t["verdict"], "intercepted", "{t:#}");
    assert_eq!(code, 1);
    assert!(has_code(&t, "anchor_native_only"), "{t:#}");
    let (_, t) = inspect(&[cert, "--host=gdmf.apple.com".into(), unrelated(&scratch)]);
    assert_eq!(t["verdict"], "intercepted", "{t:#}");
    assert!(has_code(&t, "anchor_in_no_store"), "{t:#}");
    let text = t["findings"].to_string();
    assert!(text.contains("CA:TRUE"), "{text}");
}

/// mitmproxy signs its leaves with its CA's own key; when the CA is not sent the leaf still
/// verifies under its own key, which no genuine CA does.
#[test]
fn a_leaf_signed_with_its_own_key_by_an_unsent_ca_is_interception() {
    let scratch = Scratch::new();
    let ca = Ca::root("mitmproxy");
    let leaf = ca.leaf_reusing_ca_key(&["www.example.com"]);
    let file = scratch.path("leaf.der");
    std::fs::write(&file, leaf.chain[0].as_ref()).unwrap();
    let (code, t) = inspect(&[
        file.display().to_string(),
        "--host=www.example.com".into(),
        unrelated(&scratch),
    ]);
    assert_eq!(t["verdict"], "intercepted", "{t:#}");
    assert_eq!(code, 1);
    assert!(has_code(&t, "leaf_key_equals_issuer_key"), "{t:#}");
}

/// A gateway's own CA, neither sent nor in any store: for a host whose issuers are known (an
/// Apple host of the catalog) that is evidence; for any other host, only an incomplete chain.
#[test]
fn an_unsent_gateway_ca_is_evidence_only_where_the_issuers_are_known() {
    let scratch = Scratch::new();
    let gateway = Ca::root("Corp Gateway Issuing CA 7");
    let apple = gateway.leaf(&["gdmf.apple.com"], false);
    let file = scratch.file("gdmf.pem", &apple.pem);
    let (code, t) = inspect(&[
        file.display().to_string(),
        "--host=gdmf.apple.com".into(),
        unrelated(&scratch),
    ]);
    assert_eq!(t["verdict"], "intercepted", "{t:#}");
    assert_eq!(code, 1);
    assert!(has_code(&t, "unexpected_unknown_issuer"), "{t:#}");

    let other = gateway.leaf(&["www.example.com"], false);
    let file = scratch.file("example.pem", &other.pem);
    let (code, t) = inspect(&[
        file.display().to_string(),
        "--host=www.example.com".into(),
        unrelated(&scratch),
    ]);
    assert_eq!(t["verdict"], "untrusted", "{t:#}");
    assert_eq!(code, 3);
    assert!(has_code(&t, "unknown_issuer"), "{t:#}");
}

/// Hosts outside the catalog have no expected CA family: a valid chain passes without a warning.
#[test]
fn a_host_outside_the_catalog_is_not_held_to_apples_ca_families() {
    let scratch = Scratch::new();
    let public = Ca::root("Lab Public Root");
    let leaf = public.leaf(&["www.example.com"], true);
    let port = tls_server(&leaf);
    let run = pinscope([
        "audit".to_string(),
        format!("www.example.com:{port}"),
        resolve("www.example.com", port),
        format!(
            "--public-roots={}",
            scratch.file("public.pem", &public.pem).display()
        ),
        unrelated(&scratch),
        "--format=json".into(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let t = run.json()["targets"][0].clone();
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert!(!has_code(&t, "unexpected_issuer"), "{t:#}");
}

/// A CA an MDM profile names as a transparent-connection pin is accepted where Apple's policy
/// allows it (Pallas: gdmf.apple.com), with a warning, and is interception where it does not (APN).
#[test]
fn transparent_connection_cas_are_accepted_only_where_the_policy_allows() {
    let scratch = Scratch::new();
    let ca = Ca::root("Corp Transparent Proxy CA");
    let ca_file = scratch.file("transparent.pem", &ca.pem);
    let flag = format!("--transparent-ca={}", ca_file.display());
    let gdmf = scratch.file("gdmf.pem", &ca.leaf(&["gdmf.apple.com"], true).pem);
    let (code, t) = inspect(&[
        gdmf.display().to_string(),
        "--host=gdmf.apple.com".into(),
        flag.clone(),
        unrelated(&scratch),
    ]);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(code, 0);
    assert_eq!(severity(&t, "transparent_connection_allowed"), "warning");

    let courier = scratch.file(
        "courier.pem",
        &ca.leaf(&["courier.push.apple.com"], true).pem,
    );
    let (code, t) = inspect(&[
        courier.display().to_string(),
        "--host=courier.push.apple.com".into(),
        "--port=5223".into(),
        flag,
        unrelated(&scratch),
    ]);
    assert_eq!(t["verdict"], "intercepted", "{t:#}");
    assert_eq!(code, 1);
    assert!(!has_code(&t, "transparent_connection_allowed"), "{t:#}");
}

/// A precertificate carries the CT poison extension: that, not its names, is why no client takes it.
#[test]
fn a_precertificate_is_named_as_such() {
    let scratch = Scratch::new();
    let public = Ca::root("Lab Public Root");
    let leaf = public.leaf_with(
        &["www.example.com"],
        vec![marker("1.3.6.1.4.1.11129.2.4.3")],
        vec![&public],
    );
    let file = scratch.file("precert.pem", &leaf.pem);
    let (code, t) = inspect(&[
        file.display().to_string(),
        "--host=www.example.com".into(),
        format!(
            "--public-roots={}",
            scratch.file("public.pem", &public.pem).display()
        ),
    ]);
    assert_eq!(t["verdict"], "untrusted", "{t:#}");
    assert_eq!(code, 3);
    assert!(has_code(&t, "precertificate"), "{t:#}");
    assert!(!has_code(&t, "name_mismatch"), "{t:#}");
}

/// SCTs copied from the genuine certificate onto a forged one do not verify for it: evidence.
#[test]
fn scts_copied_onto_a_forged_leaf_are_evidence() {
    let Some(reference) = reference() else { return };
    let genuine = std::fs::read(apple_pki(&reference, "api-smoot")).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&genuine).unwrap();
    let sct = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.3.6.1.4.1.11129.2.4.2")
        .expect("api-smoot embeds SCTs");
    let copied = rcgen::CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
        sct.value.to_vec(),
    );
    let scratch = Scratch::new();
    let corp = Ca::root("Corp Inspection CA");
    let forged = corp.leaf_with(&["api.smoot.apple.com"], vec![copied], vec![&corp]);
    let file = scratch.file("forged.pem", &forged.pem);
    let (code, t) = inspect(&[
        file.display().to_string(),
        "--host=api.smoot.apple.com".into(),
        format!(
            "--native-roots={}",
            scratch.file("corp.pem", &corp.pem).display()
        ),
    ]);
    assert_eq!(t["verdict"], "intercepted", "{t:#}");
    assert_eq!(code, 1);
    assert!(has_code(&t, "sct_invalid"), "{t:#}");
}
