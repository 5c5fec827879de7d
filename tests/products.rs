//! Naming the interception product behind a chain, at the library level: CA certificates made with
//! rcgen are described with `chain::facts` and handed to `Products::identify` from the built-in
//! knowledge, as the refused-chain judge does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use pinscope::analysis::chain::{CertFacts, facts};
use pinscope::analysis::knowledge::{CaNames, Knowledge, ProductMatch, Products};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

fn knowledge() -> Knowledge {
    Knowledge::builtin().expect("built-in data loads")
}

/// A self-signed CA with exactly these subject attributes (any of them may be left out).
fn ca(cn: Option<&str>, org: Option<&str>, ou: Option<&str>) -> CertFacts {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    if let Some(ou) = ou {
        dn.push(DnType::OrganizationalUnitName, ou);
    }
    if let Some(cn) = cn {
        dn.push(DnType::CommonName, cn);
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    facts(cert.der())
}

fn named(cn: &str, org: &str) -> CertFacts {
    ca(Some(cn), Some(org), None)
}

/// The product a single presented CA is named as, if any.
fn product_of(products: &Products, ca: &CertFacts) -> Option<String> {
    products.identify(&[ca], None).map(|(p, _)| p.name.clone())
}

fn assert_named(products: &Products, ca: &CertFacts, product: &str) {
    assert_eq!(
        product_of(products, ca).as_deref(),
        Some(product),
        "{} should be named {product}",
        ca.summary.subject
    );
}

fn assert_not_named(products: &Products, ca: &CertFacts) {
    let found = products.identify(&[ca], None);
    assert!(
        found.is_none(),
        "{} must not be named, got {:?}",
        ca.summary.subject,
        found.map(|(p, m)| (p.name.clone(), m))
    );
}

#[test]
fn every_family_is_named_by_its_default_ca() {
    let k = knowledge();
    let p = &k.products;
    // (CN, O, product): the subjects as the products set them.
    let cases: &[(Option<&str>, Option<&str>, &str)] = &[
        (
            Some("Kaspersky Anti-Virus Personal Root Certificate"),
            Some("AO Kaspersky Lab"),
            "Kaspersky",
        ),
        (
            Some("Kaspersky Web Anti-Virus Certification Authority"),
            Some("AO Kaspersky Lab"),
            "Kaspersky",
        ),
        (None, Some("AO Kaspersky Lab"), "Kaspersky"),
        (
            Some("ESET SSL Filter CA"),
            Some("ESET, spol. s r. o."),
            "ESET",
        ),
        (Some("ESET SSL Filter CA"), None, "ESET"),
        (
            Some("Avast Web/Mail Shield Root"),
            Some("Avast Web/Mail Shield"),
            "Avast",
        ),
        (
            Some("Avast Web/Mail Shield Self-signed Root"),
            Some("Avast Web/Mail Shield"),
            "Avast",
        ),
        (Some("avast! Web/Mail Shield Root"), None, "Avast"),
        (
            Some("AVG Web/Mail Shield Root"),
            Some("AVG Web/Mail Shield"),
            "AVG",
        ),
        (
            Some("Norton Web/Mail Shield Root"),
            Some("Norton Web/Mail Shield"),
            "Norton",
        ),
        (
            Some("Norton Web/Mail Shield Self-signed Root"),
            Some("Norton Web/Mail Shield"),
            "Norton",
        ),
        (
            Some("Bitdefender Personal CA.Net-Defender"),
            None,
            "Bitdefender",
        ),
        (
            Some("Trend Micro Web Security Cloud Root CA"),
            None,
            "Trend Micro Web Security",
        ),
        (Some("Sophos SSL CA_C1234567890"), Some("Sophos"), "Sophos"),
        (Some("Sophos_SSL_CA"), None, "Sophos"),
        (Some("SecurityAppliance_SSL_CA"), None, "Sophos"),
        (Some("Zscaler Root CA"), Some("Zscaler Inc."), "Zscaler"),
        (
            Some("Zscaler Intermediate Root CA (zscaler.net)"),
            Some("Zscaler Inc."),
            "Zscaler",
        ),
        (
            Some("caadmin.netskope.com"),
            Some("Netskope Inc."),
            "Netskope",
        ),
        (
            Some("ca.example.goskope.com"),
            Some("Example Corp"),
            "Netskope",
        ),
        (
            Some("Cisco Umbrella Root CA"),
            Some("Cisco"),
            "Cisco Umbrella",
        ),
        (
            Some("Gateway CA - Cloudflare Managed G1 d4cab1c0e006138441e1f1b57bfde614"),
            None,
            "Cloudflare Gateway",
        ),
        (Some("FortiGate CA"), Some("Fortinet"), "Fortinet FortiGate"),
        (
            Some("FortiGate Untrusted CA"),
            Some("Fortinet"),
            "Fortinet FortiGate",
        ),
        (
            Some("Fortinet Untrusted CA"),
            Some("Fortinet"),
            "Fortinet FortiGate",
        ),
        (Some("mitmproxy"), Some("mitmproxy"), "mitmproxy"),
        (
            Some("Charles Proxy CA (11 Jun 2020, 192.168.0.102)"),
            Some("XK72 Ltd"),
            "Charles Proxy",
        ),
        (Some("DO_NOT_TRUST_FiddlerRoot"), None, "Fiddler"),
        (
            Some("PortSwigger CA"),
            Some("PortSwigger"),
            "Burp Suite (PortSwigger)",
        ),
        (
            Some("Forcepoint Cloud CA"),
            Some("Forcepoint LLC"),
            "Forcepoint (Websense)",
        ),
        (Some("Superfish, Inc."), None, "Superfish"),
        (Some("eDellRoot"), None, "eDellRoot"),
    ];
    for (cn, org, product) in cases {
        assert_named(p, &ca(*cn, *org, None), product);
    }
}

#[test]
fn fortigate_default_ca_is_named_by_serial_under_fortinet() {
    let k = knowledge();
    let p = &k.products;
    for serial in [
        "FG100FTK19000000",
        "FGT60E4Q16000000",
        "FG101FTKAABBCC01",
        "FGVM4VTM23003261",
        "FWF61E4Q16000000",
    ] {
        let fortigate = ca(
            Some(serial),
            Some("Fortinet"),
            Some("Certificate Authority"),
        );
        let (product, how) = p.identify(&[&fortigate], None).expect(serial);
        assert_eq!(product.name, "Fortinet FortiGate", "{serial}");
        match how {
            ProductMatch::Name { ca, pattern } => {
                assert_eq!(ca, serial);
                assert!(pattern.contains("Fortinet"), "{pattern}");
            }
            other => panic!("{serial}: expected a name match, got {other:?}"),
        }
    }
}

#[test]
fn a_serial_like_cn_without_fortinet_is_not_named() {
    let k = knowledge();
    let p = &k.products;
    assert_not_named(p, &ca(Some("FG100FTK19000000"), Some("pinscope lab"), None));
    assert_not_named(p, &ca(Some("FG100FTK19000000"), None, None));
    // O=Fortinet alone names nothing either, nor a CN that is not a whole serial.
    assert_not_named(p, &ca(Some("Fortinet Lab Root"), Some("Fortinet"), None));
    assert_not_named(p, &ca(Some("FG100FTK19000000X"), Some("Fortinet"), None));
    assert_not_named(p, &ca(Some("xFG100FTK19000000"), Some("Fortinet"), None));
}

#[test]
fn a_name_inside_another_word_is_not_a_product() {
    let k = knowledge();
    let p = &k.products;
    for cn in [
        "Philosophos Internal CA",
        "Sophosticated Root",
        "Squidward Root CA",
        "Mitmproxyless CA",
        "Fortigated CA",
    ] {
        assert_not_named(p, &named(cn, "pinscope lab"));
    }
    assert_not_named(p, &named("Internal Root", "Philosophos Ltd"));
}

#[test]
fn public_cas_are_never_named() {
    let k = knowledge();
    let p = &k.products;
    for (cn, org) in [
        ("DigiCert Global Root G2", "DigiCert Inc"),
        ("DigiCert Global G2 TLS RSA SHA256 2020 CA1", "DigiCert Inc"),
        (
            "Sectigo RSA Domain Validation Secure Server CA",
            "Sectigo Limited",
        ),
        ("R3", "Let's Encrypt"),
        ("ISRG Root X1", "Internet Security Research Group"),
        ("Apple Public Server RSA CA 12 - G1", "Apple Inc."),
        ("GTS CA 1C3", "Google Trust Services LLC"),
        ("Cloudflare Inc ECC CA-3", "Cloudflare, Inc."),
        ("Cisco RSA Root CA 2099", "Cisco Systems, Inc."),
        ("Microsoft Azure TLS Issuing CA 01", "Microsoft Corporation"),
        (
            "Symantec Class 3 Secure Server CA - G4",
            "Symantec Corporation",
        ),
        ("GlobalSign Atlas R3 DV TLS CA 2024 Q1", "GlobalSign nv-sa"),
        ("Amazon RSA 2048 M02", "Amazon"),
    ] {
        assert_not_named(p, &named(cn, org));
        // Nor as the issuer a chain names without sending it.
        let issuer = [org.to_owned()];
        let names = CaNames {
            cn: Some(cn),
            org: &issuer,
        };
        assert!(p.identify(&[], Some(names)).is_none(), "{cn}");
    }
}

#[test]
fn cn_and_o_are_matched_separately_never_the_whole_dn() {
    let k = knowledge();
    let p = &k.products;
    // "Avast" in the CN and "Web/Mail Shield" in the O would spell the pattern only across the DN.
    assert_not_named(p, &named("Avast", "Web/Mail Shield Root"));
    // A certificate with no CN: `facts` shows the whole DN as its name, which must not be matched.
    let no_cn = ca(
        None,
        Some("Shield Corp"),
        Some("Avast Web/Mail Shield Root"),
    );
    assert_not_named(p, &no_cn);
    assert_eq!(CaNames::subject_of(&no_cn).cn, None);
}

#[test]
fn a_key_beats_a_name() {
    let k = knowledge();
    let p = &k.products;
    let zscaler_key = p
        .products
        .iter()
        .find(|x| x.name == "Zscaler")
        .and_then(|x| x.spki_sha256.first().cloned())
        .expect("Zscaler's key is listed");
    // The CA nearest the leaf carries mitmproxy's name; the one above it has Zscaler's key.
    let by_name = named("mitmproxy", "mitmproxy");
    let mut by_key = named("Corporate Root", "Example Corp");
    by_key.summary.spki_sha256 = zscaler_key;
    let (product, how) = p.identify(&[&by_name, &by_key], None).unwrap();
    assert_eq!(product.name, "Zscaler");
    assert_eq!(
        how,
        ProductMatch::Key {
            ca: "Corporate Root".into()
        }
    );
    // And a key beats a name on the unsent issuer too.
    let issuer_org = ["Kaspersky Lab".to_owned()];
    let issuer = CaNames {
        cn: Some("Kaspersky Anti-Virus Personal Root Certificate"),
        org: &issuer_org,
    };
    let (product, _) = p.identify(&[&by_key], Some(issuer)).unwrap();
    assert_eq!(product.name, "Zscaler");
}

#[test]
fn a_real_product_key_is_recognised_whatever_its_name() {
    let Some(reference) = common::reference() else {
        return;
    };
    let pem = std::fs::read(reference.join("interception-cas/ca-superfish.crt")).unwrap();
    let der = CertificateDer::from_pem_slice(&pem).unwrap();
    let superfish = facts(&der);
    let k = knowledge();
    let (product, how) = k.products.identify(&[&superfish], None).unwrap();
    assert_eq!(product.name, "Superfish");
    assert!(matches!(how, ProductMatch::Key { .. }), "{how:?}");
}

#[test]
fn a_product_is_found_through_the_unsent_issuer_alone() {
    let k = knowledge();
    let p = &k.products;
    // Only a leaf was sent (no CA presented); its issuer names ESET's CA.
    let issuer_org = ["ESET, spol. s r. o.".to_owned()];
    let eset = CaNames {
        cn: Some("ESET SSL Filter CA"),
        org: &issuer_org,
    };
    let (product, how) = p.identify(&[], Some(eset)).unwrap();
    assert_eq!(product.name, "ESET");
    assert_eq!(
        how,
        ProductMatch::Name {
            ca: "ESET SSL Filter CA".into(),
            pattern: "ESET SSL Filter CA".into(),
        }
    );

    // A FortiGate's serial CA, named by the leaf it signed: the CN rule needs the issuer's O too.
    let fortinet = ["Fortinet".to_owned()];
    let fortigate = CaNames {
        cn: Some("FGT60E4Q16000000"),
        org: &fortinet,
    };
    let (product, _) = p.identify(&[], Some(fortigate)).unwrap();
    assert_eq!(product.name, "Fortinet FortiGate");
    let lab = ["pinscope lab".to_owned()];
    let not_fortinet = CaNames {
        cn: Some("FGT60E4Q16000000"),
        org: &lab,
    };
    assert!(p.identify(&[], Some(not_fortinet)).is_none());

    // Built from a real leaf: `CaNames::issuer_of` reads the issuer's CN and O apart.
    let kaspersky = common::Ca::root_with(
        "Kaspersky Anti-Virus Personal Root Certificate",
        "AO Kaspersky Lab",
        Vec::new(),
    );
    let leaf = kaspersky.leaf(&["swscan.apple.com"], false);
    let leaf_facts = facts(&leaf.chain[0]);
    let issuer = CaNames::issuer_of(&leaf_facts);
    assert_eq!(
        issuer.cn,
        Some("Kaspersky Anti-Virus Personal Root Certificate")
    );
    assert_eq!(issuer.org, ["AO Kaspersky Lab".to_owned()]);
    let (product, _) = p.identify(&[], Some(issuer)).unwrap();
    assert_eq!(product.name, "Kaspersky");
}

#[test]
fn o_only_matches_report_the_o_value() {
    let k = knowledge();
    let (product, how) = k
        .products
        .identify(&[&named("Corp Inspection Root", "AO Kaspersky Lab")], None)
        .unwrap();
    assert_eq!(product.name, "Kaspersky");
    assert_eq!(
        how,
        ProductMatch::Name {
            ca: "AO Kaspersky Lab".into(),
            pattern: "AO Kaspersky Lab".into(),
        }
    );
}
