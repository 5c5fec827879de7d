//! Kandji/Iru: the tenant's device domains join the audit with their expectations (Let's Encrypt,
//! at most TLS 1.2, pinned by the agent), and explanations speak to the admin of that agent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

const TENANT: [&str; 6] = [
    "--kandji-tenant=t1abc",
    "--kandji-subdomain=acme",
    "--region=us",
    "--no-revocation",
    "--format=json",
    "--timeout=5",
];

/// `audit --host=HOST` of a tenant's device domain served at `addr` (port 443), with the tenant's
/// flags and these trusted roots.
fn audit_device_domain(host: &str, addr: std::net::SocketAddr, roots: String) -> Run {
    let mut args = vec![
        "audit".to_string(),
        format!("--host={host}"),
        format!("--resolve={host}:443:{}", addr.ip()),
        roots,
    ];
    args.extend(TENANT.iter().map(|s| s.to_string()));
    pinscope(&args)
}

#[test]
fn the_tenants_device_domains_carry_their_expectations() {
    let mut args = vec!["catalog".to_string()];
    args.extend(TENANT[..3].iter().map(|s| s.to_string()));
    args.push("--format=json".into());
    let rows = pinscope(&args).json();
    let row = |host: &str, port: u64| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["host"] == host && r["port"] == port)
            .unwrap_or_else(|| panic!("{host}:{port}"))
            .clone()
    };
    for (host, other) in [
        ("t1abc.devices.us-1.kandji.io", "t1abc.web-api.kandji.io"),
        ("t1abc.web-api.kandji.io", "t1abc.devices.us-1.kandji.io"),
    ] {
        let r = row(host, 443);
        assert_eq!(r["pinned_by"], "Kandji Agent");
        assert_eq!(r["pinned_with"], serde_json::json!([other]));
        assert_eq!(r["tls_max"], "1.2");
        assert_eq!(r["supports_proxy"], "no");
    }
    // Let's Encrypt CRLs are plain HTTP: port 80 as well as the 443 Iru lists.
    assert_eq!(row("r11.c.lencr.org", 80)["pattern"], "*.c.lencr.org");
    assert_eq!(row("r11.c.lencr.org", 443)["pattern"], "*.c.lencr.org");
}

#[test]
fn inspected_device_domain_explains_what_the_agent_does_and_what_to_exempt() {
    let scratch = Scratch::new();
    let inspection = Ca::root("Corp Inspection CA");
    let host = "t1abc.devices.us-1.kandji.io";
    let Some(addr) = tls_server_on_catalog_port(&inspection.leaf(&[host], true), 443, false) else {
        return;
    };
    let run = audit_device_domain(host, addr, scratch.roots("native", &inspection.pem));
    assert_eq!(run.code, 1, "{}", run.stderr);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "intercepted");
    // The real servers speak at most TLS 1.2; this session is TLS 1.3.
    assert!(has_code(t, "tls_profile_mismatch"), "{t:#}");
    let explanation = t["explanation"].as_str().unwrap();
    assert!(
        explanation.starts_with(&format!("The Kandji Agent pins {host}")),
        "{explanation}"
    );
    assert!(explanation.contains("stop checking in"), "{explanation}");
    assert!(
        explanation.ends_with(&format!(
            "Exempt both device domains from SSL inspection: {host} and t1abc.web-api.kandji.io."
        )),
        "{explanation}"
    );
}

#[test]
fn a_public_chain_from_another_ca_on_a_device_domain_is_flagged_for_the_agent() {
    let scratch = Scratch::new();
    let public = Ca::root("Lab Public Root");
    let host = "t1abc.web-api.kandji.io";
    let Some(addr) = tls_server_on_catalog_port(&public.leaf(&[host], true), 443, true) else {
        return;
    };
    let run = audit_device_domain(host, addr, scratch.roots("public", &public.pem));
    assert_eq!(run.code, 0, "{}", run.stdout);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "pass");
    assert_eq!(t["tls"]["version"], "TLSv1.2");
    // TLS 1.2 is what Iru's servers speak, but their suites are RSA ones: this lab server's ECDSA
    // suite is not among them. The chain is genuine, so that is a warning, not evidence.
    let profile = finding(t, "tls_profile_mismatch");
    assert_eq!(profile["severity"], "warning");
    let message = profile["message"].as_str().unwrap();
    assert!(message.contains("TLS_ECDHE_ECDSA_WITH_"), "{message}");
    assert!(!message.contains("at most TLS"), "{message}");
    assert!(has_code(t, "unexpected_issuer"), "{t:#}");
    let warning = finding(t, "unexpected_issuer");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("Let's Encrypt"),
        "{warning:#}"
    );
    assert!(
        t["explanation"]
            .as_str()
            .unwrap()
            .contains("the Kandji Agent pins these domains"),
        "{t:#}"
    );
}
