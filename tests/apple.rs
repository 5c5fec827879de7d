//! The verdict engine as an Apple device sees it: Apple's own trust-test oracle, real Apple chains,
//! forgeries that copy Apple's names and markers, and real interception CAs served on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

const INTERMEDIATE_MARKER: &str = "1.2.840.113635.100.6.2.12";
const GS_LEAF_MARKER: &str = "1.2.840.113635.100.6.27.2";

/// Apple's expected outcomes for its own chains (`PinningPolicyTrustTest.plist`): every case
/// whose certificates are in apple-pki/ and that does not need Apple's test hierarchy, evaluated
/// with `inspect --at VerifyDate`. Cases that use Apple's generic SSL policy are judged by host
/// name, exactly as pinscope does in an audit; cases that name a service policy are judged under
/// that policy with `--apple-policy`.
#[test]
fn pinscope_agrees_with_apples_pinning_oracle() {
    let Some(reference) = reference() else { return };
    // Apple policy OIDs (SecPolicyPriv.h) and the pinning policies they apply.
    let policies = [
        ("1.2.840.113635.100.1.3", None), // AppleSSL: host-name lookup
        ("1.2.840.113635.100.1.43", Some("Escrow")), // EscrowService
        ("1.2.840.113635.100.1.44", Some("FMiP")), // AppleFMiP
        ("1.2.840.113635.100.1.46", Some("GS")), // AppleGSService
        ("1.2.840.113635.100.1.70", Some("APN")), // ApplePushService (legacy courier)
        ("1.2.840.113635.100.1.73", Some("Escrow")), // EscrowProxyCompatibility
    ];
    let cases: Vec<plist::Dictionary> =
        plist::from_file(reference.join("apple-pinning/PinningPolicyTrustTest.plist")).unwrap();
    let have = |name: &str| {
        reference
            .join("apple-pki")
            .join(format!("{name}.cer"))
            .is_file()
    };
    let names = |v: Option<&plist::Value>| -> Vec<String> {
        match v {
            Some(plist::Value::String(s)) => vec![s.clone()],
            Some(plist::Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_string().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let (mut agree, mut disagree, mut skipped) = (0, Vec::new(), Vec::new());
    for case in &cases {
        let id = format!(
            "{}/{}",
            case.get("MajorTestName")
                .and_then(|v| v.as_string())
                .unwrap_or("?"),
            case.get("MinorTestName")
                .and_then(|v| v.as_string())
                .unwrap_or("?")
        );
        if case
            .get("EnableTestCertificates")
            .and_then(|v| v.as_boolean())
            == Some(true)
        {
            continue;
        }
        let leaf = names(case.get("Leaf"));
        let intermediates = names(case.get("Intermediates"));
        let anchors = names(case.get("Anchors"));
        if !leaf
            .iter()
            .chain(&intermediates)
            .chain(&anchors)
            .all(|n| have(n))
        {
            continue;
        }
        let policy = case
            .get("Policies")
            .and_then(|v| v.as_dictionary())
            .unwrap();
        let oid = policy
            .get("PolicyIdentifier")
            .and_then(|v| v.as_string())
            .unwrap();
        let Some((_, apple_policy)) = policies.iter().find(|(o, _)| *o == oid) else {
            skipped.push(format!("{id} (policy {oid})"));
            continue;
        };
        let host = policy
            .get("Properties")
            .and_then(|p| p.as_dictionary())
            .and_then(|p| p.get("SecPolicyName"))
            .and_then(|v| v.as_string())
            .unwrap();
        let at = case
            .get("VerifyDate")
            .and_then(|v| v.as_date())
            .map(|d| d.to_xml_format())
            .unwrap();
        let expected_trusted = case
            .get("ExpectedResult")
            .and_then(|v| v.as_unsigned_integer())
            == Some(4);

        let mut args = vec!["inspect".to_string()];
        args.extend(
            leaf.iter()
                .chain(&intermediates)
                .map(|n| apple_pki(&reference, n)),
        );
        args.push(format!("--host={host}"));
        args.push(format!("--at={at}"));
        args.push("--format=json".into());
        if let Some(p) = apple_policy {
            args.push(format!("--apple-policy={p}"));
        }
        // The case's anchors are the evaluation's only trust anchors.
        for a in &anchors {
            let flag = if a.starts_with("AppleRoot") {
                "--apple-roots"
            } else {
                "--public-roots"
            };
            args.push(format!("{flag}={}", apple_pki(&reference, a)));
        }
        args.push(format!(
            "--native-roots={}",
            apple_pki(&reference, "GeoTrustGlobalCA")
        ));
        let (_, t) = first_target(&args);
        let trusted = t["verdict"] == "pass";
        if trusted == expected_trusted {
            agree += 1;
        } else {
            disagree.push(format!(
                "{id}: expected {} got {} ({})",
                expected_trusted, t["verdict"], t["explanation"]
            ));
        }
    }
    eprintln!(
        "oracle: {agree} agree, {} disagree, skipped: {skipped:?}",
        disagree.len()
    );
    assert!(agree >= 10, "only {agree} oracle cases ran");
    assert!(
        disagree.is_empty(),
        "disagreements with Apple's oracle:\n{}",
        disagree.join("\n")
    );
}

#[test]
fn real_apple_chains_pass_with_their_policy_satisfied() {
    let Some(reference) = reference() else { return };
    let cases = [
        (
            "gsa",
            "AppleServerAuthentication",
            "gsa.apple.com",
            "2018-06-01T00:00:00Z",
            Some("GS"),
            "Apple Root CA",
        ),
        (
            "escrowproxy",
            "AppleISTCA2G1",
            "p97-escrowproxy.icloud.com",
            "2022-06-01T00:00:00Z",
            Some("Escrow"),
            "Apple Root CA",
        ),
        (
            "ckdatabasews",
            "AppleISTCA2G1",
            "p62-ckdatabasews.icloud.com",
            "2022-06-01T00:00:00Z",
            None,
            "Apple Root CA",
        ),
        (
            "api-smoot",
            "ApplePublicServerRSA12-G1",
            "api2.smoot.apple.com",
            "2024-12-01T00:00:00Z",
            None,
            "AAA Certificate Services",
        ),
    ];
    for (leaf, intermediate, host, at, policy, anchor) in cases {
        // Without Apple's root at hand, the known key of Apple's intermediate anchors the chain;
        // with it, the path goes to the root itself. Both are genuine.
        for apple_roots in [false, true] {
            let mut args = vec![
                "inspect".to_string(),
                apple_pki(&reference, leaf),
                apple_pki(&reference, intermediate),
                format!("--host={host}"),
                format!("--at={at}"),
                "--format=json".into(),
                format!(
                    "--native-roots={}",
                    apple_pki(&reference, "GeoTrustGlobalCA")
                ),
            ];
            if apple_roots {
                args.push(format!(
                    "--apple-roots={}",
                    apple_pki(&reference, "AppleRootCA")
                ));
            }
            let (code, t) = first_target(&args);
            assert_eq!(
                t["verdict"], "pass",
                "{host} (apple roots: {apple_roots}): {t:#}"
            );
            assert_eq!(code, 0);
            assert_eq!(t["anchor"], anchor, "{host}");
            match policy {
                Some(p) => {
                    assert_eq!(t["apple_pinning"]["policy"], p, "{host}");
                    assert_eq!(t["apple_pinning"]["satisfied"], true, "{host}");
                    assert!(has_code(&t, "pinning_satisfied"));
                }
                None => assert!(t["apple_pinning"].is_null(), "{host}: {t:#}"),
            }
            assert!(t["interception"].is_null());
        }
    }
}

/// `inspect` of Apple's Find My leaf and its issuer at a time they were valid, with `extra` flags.
fn inspect_fmip(reference: &std::path::Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec![
        "inspect".to_string(),
        apple_pki(reference, "fmip"),
        apple_pki(reference, "AppleServerAuthentication"),
        "--host=p04-fmip.icloud.com".into(),
        "--at=2016-06-01T00:00:00Z".into(),
        "--format=json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    first_target(&args)
}

#[test]
fn a_qa_certificate_is_refused_by_production_devices() {
    let Some(reference) = reference() else { return };
    // Apple's fmip.cer in its regression data is a QA-server certificate: it carries the QA marker
    // 1.2.840.113635.100.6.27.6.1, which only internal builds accept.
    let (code, t) = inspect_fmip(&reference, &[]);
    assert_eq!(code, 3);
    assert_eq!(t["verdict"], "untrusted");
    assert_eq!(t["apple_pinning"]["policy"], "FMiP");
    let failed = t["apple_pinning"]["rule_results"][0]["failed_checks"][0]
        .as_str()
        .unwrap();
    assert!(failed.contains("only the QA marker"), "{failed}");
    assert!(
        t["interception"].is_null(),
        "a genuine Apple chain is never called intercepted"
    );
}

#[test]
fn a_genuine_chain_under_the_wrong_policy_is_refused_with_the_failed_check_named() {
    let Some(reference) = reference() else { return };
    // Apple's own negative case: the Find My leaf cannot serve the escrow service.
    let (code, t) = inspect_fmip(&reference, &["--apple-policy=Escrow"]);
    assert_eq!(code, 3);
    assert_eq!(t["verdict"], "untrusted");
    assert_eq!(t["apple_pinning"]["satisfied"], false);
    let failed = t["apple_pinning"]["rule_results"][0]["failed_checks"].to_string();
    assert!(failed.contains("1.2.840.113635.100.6.27.7.2"), "{failed}");
    assert!(
        t["explanation"].as_str().unwrap().contains("policy Escrow"),
        "{t:#}"
    );
}

/// A lab chain built to look like Apple's: the same names, the same marker OIDs, other keys.
struct FakeApple {
    root: Ca,
    intermediate: Ca,
}

impl FakeApple {
    fn new() -> Self {
        let root = Ca::root_with("Apple Root CA", "Apple Inc.", Vec::new());
        let intermediate = root.intermediate(
            "Apple Server Authentication CA",
            "Apple Inc.",
            vec![marker(INTERMEDIATE_MARKER)],
        );
        Self { root, intermediate }
    }

    fn leaf(&self, host: &str) -> Leaf {
        self.intermediate.leaf_with(
            &[host],
            vec![marker(GS_LEAF_MARKER)],
            vec![&self.intermediate],
        )
    }
}

#[test]
fn apple_names_and_markers_on_other_keys_are_intercepted_live() {
    let fake = FakeApple::new();
    let host = "gsa.apple.com";
    let port = tls_server(&fake.leaf(host));
    let scratch = Scratch::new();
    // Even a machine that trusts the forger's root (as a managed Mac trusts an inspection CA)
    // must not make the forgery pass: the keys are not Apple's.
    let native = scratch.file("native.pem", &fake.root.pem);
    let (code, t) = first_target(&[
        "audit".into(),
        format!("{host}:{port}"),
        resolve(host, port),
        format!("--native-roots={}", native.display()),
        "--format=json".into(),
    ]);
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(t["verdict"], "intercepted");
    let codes = codes(&t);
    assert!(
        codes.contains(&"apple_names_copied".to_string()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"anchor_native_only".to_string()),
        "{codes:?}"
    );
    assert_eq!(t["apple_pinning"]["policy"], "GS");
    assert_eq!(t["apple_pinning"]["satisfied"], false);
    let evidence = t["interception"]["evidence"].as_array().unwrap();
    assert!(evidence.iter().any(|e| e == "apple_names_copied"));
    assert!(
        t["explanation"]
            .as_str()
            .unwrap()
            .contains("names of CAs devices trust, but not their keys"),
        "{t:#}"
    );
}

#[test]
fn apples_fake_root_is_recognised_as_a_forgery() {
    let Some(reference) = reference() else { return };
    // Apple's own test forgery: a self-signed "Apple Root CA" on another key.
    let (code, t) = first_target(&[
        "inspect".into(),
        apple_pki(&reference, "FakeAppleRootCA"),
        "--host=gsa.apple.com".into(),
        "--at=2009-12-01T00:00:00Z".into(),
        "--format=json".into(),
    ]);
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(t["verdict"], "intercepted");
    assert!(has_code(&t, "apple_names_copied"), "{t:#}");
}

#[test]
fn real_interception_roots_are_named_live() {
    let Some(reference) = reference() else { return };
    let cas = reference.join("interception-cas");
    let read = |f: &str| std::fs::read_to_string(cas.join(f)).unwrap();
    for (file, product, host, pinned) in [
        ("ca-edellroot", "eDellRoot", "gdmf.apple.com", true),
        (
            "ca-dsdtestprovider",
            "DSDTestProvider",
            "albert.apple.com",
            false,
        ),
        (
            "ca-mitm-software",
            "BadSSL MITM Software Test",
            "humb.apple.com",
            true,
        ),
    ] {
        let ca = Ca::from_pem(&read(&format!("{file}.crt")), &read(&format!("{file}.key")));
        for send_ca in [true, false] {
            let port = tls_server(&ca.leaf(&[host], send_ca));
            let (code, t) = first_target(&[
                "audit".into(),
                format!("{host}:{port}"),
                resolve(host, port),
                format!(
                    "--native-roots={}",
                    cas.join("zscaler_root_ca.pem").display()
                ),
                "--format=json".into(),
            ]);
            assert_eq!(code, 1, "{file} (CA sent: {send_ca}): {t:#}");
            assert_eq!(t["verdict"], "intercepted");
            assert_eq!(
                t["interception"]["product"], product,
                "{file} (CA sent: {send_ca}): {t:#}"
            );
            assert!(has_code(&t, "known_inspection_product"));
            // The product is named in the explanation (as the CA, or after it when the CA's name
            // does not say it).
            assert!(
                t["explanation"].as_str().unwrap().contains(product),
                "{t:#}"
            );
            assert_eq!(t["apple_pinning"].is_object(), pinned, "{host}: {t:#}");
        }
    }
}

#[test]
fn a_product_is_named_from_the_issuer_even_when_its_ca_is_not_sent() {
    // Zscaler's root is public (certificate only); a lab CA with its name stands in for the key.
    let zscaler = Ca::root_with("Zscaler Root CA", "Zscaler Inc.", Vec::new());
    let leaf = zscaler.leaf(&["deviceenrollment.apple.com"], false);
    let scratch = Scratch::new();
    let file = scratch.file("leaf.pem", &leaf.pem);
    let (code, t) = first_target(&[
        "inspect".into(),
        file.display().to_string(),
        "--host=deviceenrollment.apple.com".into(),
        "--format=json".into(),
    ]);
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(t["interception"]["product"], "Zscaler");
    assert_eq!(t["interception"]["anchor_subject"], "Zscaler Root CA");
}

#[test]
fn the_one_line_view_of_an_intercepted_target_names_the_product() {
    let zscaler = Ca::root_with("Zscaler Root CA", "Zscaler Inc.", Vec::new());
    let scratch = Scratch::new();
    let file = scratch.file("chain.pem", &zscaler.leaf(&["gdmf.apple.com"], true).pem);
    // The plain table lists targets first (advice follows); the reports end with the full table.
    for (format, row_end, first) in [
        ("table", "\n", true),
        ("markdown", "\n", false),
        ("html", "</tr>", false),
    ] {
        let run = pinscope([
            "inspect".to_string(),
            file.display().to_string(),
            "--host=gdmf.apple.com".into(),
            format!("--format={format}"),
        ]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        let at = if first {
            run.stdout.find("gdmf.apple.com:443")
        } else {
            run.stdout.rfind("gdmf.apple.com:443")
        }
        .expect("target row");
        let row = &run.stdout[at..];
        let row = &row[..row.find(row_end).unwrap_or(row.len())];
        assert!(row.contains("issued by Zscaler"), "{format}: {row}");
    }
}

#[test]
fn leaf_signed_with_its_issuers_key_is_evidence() {
    let rogue = Ca::root("Corporate Proxy CA");
    let leaf = rogue.leaf_reusing_ca_key(&["swscan.apple.com"]);
    let scratch = Scratch::new();
    let file = scratch.file("chain.pem", &leaf.pem);
    let (_, t) = first_target(&[
        "inspect".into(),
        file.display().to_string(),
        "--host=swscan.apple.com".into(),
        "--format=json".into(),
    ]);
    assert_eq!(t["verdict"], "intercepted");
    assert!(has_code(&t, "leaf_key_equals_issuer_key"), "{t:#}");
}

#[test]
fn publicly_valid_chain_failing_apples_pin_is_untrusted() {
    // A chain every browser would accept, for a host Apple pins to its own root.
    let public = Ca::root("Lab Public Root");
    let host = "gdmf.apple.com";
    let port = tls_server(&public.leaf(&[host], true));
    let scratch = Scratch::new();
    let roots = scratch.file("public.pem", &public.pem);
    let (code, t) = first_target(&[
        "audit".into(),
        format!("{host}:{port}"),
        resolve(host, port),
        format!("--public-roots={}", roots.display()),
        format!("--native-roots={}", roots.display()),
        "--format=json".into(),
    ]);
    assert_eq!(code, 3, "{t:#}");
    assert_eq!(t["verdict"], "untrusted");
    assert!(has_code(&t, "pinning_failed"));
    assert_eq!(t["apple_pinning"]["policy"], "Pallas");
    let explanation = t["explanation"].as_str().unwrap();
    assert!(
        explanation
            .starts_with("Apple devices pin gdmf.apple.com (policy Pallas) to Apple Root CA"),
        "{explanation}"
    );
    assert!(
        explanation.contains("not at an Apple root CA"),
        "{explanation}"
    );
}

#[test]
fn unpinned_host_from_an_unexpected_ca_family_passes_with_a_warning() {
    let public = Ca::root("Lab Public Root");
    let scratch = Scratch::new();
    let roots = scratch.file("public.pem", &public.pem);
    let host = "deviceenrollment.apple.com";
    let port = tls_server(&public.leaf(&[host], true));
    let catalog = scratch.file(
        "lab.toml",
        &format!("version = 1\n[[entry]]\nhosts = [\"{host}\"]\nports = [{port}]\ntransport = \"tcp\"\nsection = \"device-management\"\nsource = \"apple-enterprise\"\n"),
    );
    // The filter also selects the built-in row on port 443; point it at loopback, where nothing
    // listens on 443, so it is refused at once.
    let run = pinscope([
        "audit".into(),
        format!("--catalog={}", catalog.display()),
        format!("--host={host}"),
        resolve(host, port),
        format!("--resolve={host}:443:127.0.0.1"),
        format!("--public-roots={}", roots.display()),
        "--format=json".into(),
        "--timeout=3".into(),
    ]);
    let json = run.json();
    let t = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["port"] == port)
        .unwrap()
        .clone();
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["section"], "device-management");
    assert!(has_code(&t, "unexpected_issuer"), "{t:#}");
    assert!(t["apple_pinning"].is_null());
}

#[test]
fn tls_newer_than_the_real_server_speaks_is_evidence() {
    // Kandji's device domains speak at most TLS 1.2; a TLS 1.3 session with an unverifiable
    // chain there was made by something else.
    let private = Ca::root("Unknown Issuing CA");
    let host = "t1.devices.us-1.kandji.io";
    let port = tls_server(&private.leaf(&[host], false));
    let scratch = Scratch::new();
    let catalog = scratch.file(
        "kandji.toml",
        &format!("version = 1\n[[entry]]\nhosts = [\"{host}\"]\nports = [{port}]\ntransport = \"tcp\"\nsection = \"kandji\"\nsource = \"iru-network\"\ntls_max = \"1.2\"\n"),
    );
    let (code, t) = first_target(&[
        "audit".into(),
        format!("--catalog={}", catalog.display()),
        format!("--host={host}"),
        resolve(host, port),
        "--format=json".into(),
    ]);
    assert_eq!(code, 1, "{t:#}");
    assert_eq!(t["tls"]["version"], "TLSv1.3");
    assert!(has_code(&t, "tls_profile_mismatch"), "{t:#}");
}

#[test]
fn catalog_names_the_pinning_policy_of_each_host() {
    let run = pinscope(["catalog", "--format=json"]);
    let rows = run.json();
    let policy = |host: &str, port: u64| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["host"] == host && r["port"] == port)
            .unwrap_or_else(|| panic!("{host}:{port}"))["apple_pinning_policy"]
            .clone()
    };
    assert_eq!(policy("gdmf.apple.com", 443), "Pallas");
    assert_eq!(policy("humb.apple.com", 443), "BAA");
    assert_eq!(policy("tbsc.apple.com", 443), "Activation");
    assert_eq!(policy("courier.push.apple.com", 5223), "APN");
    assert_eq!(
        policy("7-courier.push.apple.com", 5223),
        "APN",
        "couriers are pinned in code"
    );
    assert_eq!(policy("mesu.apple.com", 443), "AppleIssuedTransparent");
    assert!(policy("albert.apple.com", 443).is_null());
}
