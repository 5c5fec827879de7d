//! `pinscope inspect`: the same engine on chains from files, at a chosen time, including real Apple
//! certificates from `../shared/reference`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[test]
fn pem_chain_is_judged_like_a_live_one() {
    let lab = Lab::new();
    let host = "deviceenrollment.apple.com";
    let run = lab.inspect(&lab.public.leaf(&[host], true).pem, host);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "pass");
    assert_eq!(
        t["section"], "device-management",
        "deviceenrollment.apple.com:443 is a catalog row"
    );
    assert!(t["tls"].is_null());

    let run = lab.inspect(&lab.inspection.leaf(&[host], true).pem, host);
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["targets"][0]["verdict"], "intercepted");
}

#[test]
fn self_signed_leaf_is_intercepted() {
    let scratch = Scratch::new();
    let leaf = scratch.file("self.pem", &self_signed_leaf("albert.apple.com").pem);
    let run = pinscope([
        "inspect",
        leaf.to_str().unwrap(),
        "--host=albert.apple.com",
        "--format=json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "intercepted");
    assert_eq!(t["findings"][0]["code"], "anchor_in_no_store");
    assert!(
        t["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("self-signed")
    );
}

/// A real iCloud chain (2021-2022) through Apple IST CA 2's Baltimore cross-certificate, judged
/// inside its validity against Baltimore as the only public root: genuine. Judged today it is
/// expired, and the verdict says so without mistaking it for interception.
#[test]
fn real_icloud_chain_passes_at_its_own_time_and_is_expired_today() {
    let Some(reference) = reference() else { return };
    let pki = reference.join("apple-pki");
    let leaf = pki.join("ckdatabasews.cer");
    let intermediate = pki.join("AppleISTCA2G1-Baltimore.cer");
    let root = format!(
        "--public-roots={}",
        pki.join("BaltimoreCyberTrustRoot.cer").display()
    );
    let native = format!(
        "--native-roots={}",
        pki.join("GeoTrustGlobalCA.cer").display()
    );
    let args = |at: Option<&str>| {
        let mut a = vec![
            "inspect".to_string(),
            leaf.display().to_string(),
            intermediate.display().to_string(),
            "--host=ckdatabasews.icloud.com".into(),
            root.clone(),
            native.clone(),
            "--format=json".into(),
        ];
        if let Some(at) = at {
            a.push(format!("--at={at}"));
        }
        a
    };
    let then = pinscope(args(Some("2022-01-01T00:00:00Z")));
    assert_eq!(then.code, 0, "{}", then.stdout);
    let t = &then.json()["targets"][0];
    assert_eq!(t["verdict"], "pass");
    assert_eq!(t["anchor"], "Baltimore CyberTrust Root");
    assert_eq!(
        t["chain"][0]["sha256"],
        "8e8a98bc05afbb1871d6246d7fb8f0728b154c22f3b2e8119eb978328900b342"
    );

    let now = pinscope(args(None));
    assert_eq!(now.code, 3);
    let t = &now.json()["targets"][0];
    assert_eq!(t["verdict"], "untrusted");
    assert!(has_code(t, "expired"), "{:?}", codes(t));
    assert_eq!(
        t["anchor"], "Baltimore CyberTrust Root",
        "trust is still established at a time the chain was valid"
    );
}

#[test]
fn a_chain_for_another_host_fails_the_name_check() {
    let Some(reference) = reference() else { return };
    let pki = reference.join("apple-pki");
    let run = pinscope([
        "inspect".to_string(),
        pki.join("ckdatabasews.cer").display().to_string(),
        pki.join("AppleISTCA2G1-Baltimore.cer")
            .display()
            .to_string(),
        "--host=deviceenrollment.apple.com".into(),
        format!(
            "--public-roots={}",
            pki.join("BaltimoreCyberTrustRoot.cer").display()
        ),
        "--at=2022-01-01T00:00:00Z".into(),
        "--format=json".into(),
    ]);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "untrusted");
    assert!(has_code(t, "name_mismatch"));
}
