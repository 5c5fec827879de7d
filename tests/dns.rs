//! `--dns-server` against a DNS responder run by the test on 127.0.0.1 (UDP): names that resolve, do
//! not exist, fail, have no addresses, are refused, or are never answered, and names that resolve
//! only to IPv6. The machine's own resolver is never used.
//!
//! A DNS server that never answers: each query waits three quarters of `--timeout`, and a target whose
//! deadline passes while its name is still being resolved is `dns_error` (`dns_no_answer`) too, never
//! `timeout`. Each name is asked once per run, however many targets use it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::*;

/// `audit` of these targets with these flags within a deadline of `secs`.
fn audit(targets: &[String], extra: &[String], secs: u64) -> Run {
    audit_within(&[targets, extra].concat(), secs)
}

/// Audits `host:port`, a lab server under the lab public root, through a DNS server that answers
/// `zone` for `host`; the run must pass. Returns the target and the DNS server.
fn passes_through_dns(
    lab: &Lab,
    host: &str,
    port: u16,
    zone: Zone,
) -> (serde_json::Value, DnsServer) {
    let dns = DnsServer::start(&[(host, zone)]);
    let run = audit(
        &[format!("{host}:{port}")],
        &[dns.flag(), lab.public_roots()],
        5,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let t = target(&json, host).clone();
    assert_eq!(t["verdict"], "pass", "{t:#}");
    (t, dns)
}

#[test]
fn a_name_the_dns_server_resolves_reaches_the_server_and_passes() {
    let lab = Lab::new();
    let host = "deviceenrollment.apple.com";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let (t, dns) = passes_through_dns(&lab, host, port, Zone::v4(Ipv4Addr::LOCALHOST));
    assert_eq!(t["addresses"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(t["address_used"], "127.0.0.1");
    let asked = dns.questions();
    assert!(asked.contains(&format!("{host} A")), "{asked:?}");
    assert!(asked.contains(&format!("{host} AAAA")), "{asked:?}");
}

#[test]
fn each_dns_failure_is_a_dns_error_with_its_own_code_and_message() {
    let dns = DnsServer::start(&[
        ("servfail.pinscope.test", Zone::rcode(2)),
        ("nodata.pinscope.test", Zone::rcode(0)),
        ("refused.pinscope.test", Zone::rcode(5)),
    ]);
    let hosts = [
        "nxdomain.pinscope.test",
        "servfail.pinscope.test",
        "nodata.pinscope.test",
        "refused.pinscope.test",
    ];
    let targets: Vec<String> = hosts.iter().map(|h| format!("{h}:443")).collect();
    let run = audit(&targets, &[dns.flag()], 3);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let server = dns.addr.to_string();
    let expected = [
        ("dns_nxdomain", "no such name"),
        ("dns_servfail", "the DNS server failed (SERVFAIL)"),
        ("dns_no_addresses", "no addresses"),
        ("dns_refused", "refused the query (REFUSED)"),
    ];
    for (host, (code, text)) in hosts.iter().zip(expected) {
        let t = target(&json, host);
        assert_eq!(t["verdict"], "dns_error", "{t:#}");
        let (got_code, message) = first_finding(t);
        assert_eq!(got_code, code, "{t:#}");
        assert!(
            message.starts_with(&format!("resolve: {host}: ")),
            "{message}"
        );
        assert!(message.contains(text), "{message}");
        assert!(message.contains(&server), "{message}");
        assert_eq!(t["addresses"], serde_json::json!([]));
        assert!(t["address_used"].is_null());
        assert!(t["explanation"].as_str().unwrap().contains(host), "{t:#}");
    }
}

/// A DNS server that never answers is named as such: each query waits three quarters of the
/// target's deadline, so the silence is reported before the deadline ends the probe.
#[test]
fn a_silent_dns_server_is_named_within_the_deadline() {
    for (deadline, secs) in [(2u64, "1.5s"), (4, "3s")] {
        let dns = DnsServer::start(&[("silent.pinscope.test", Zone::silent())]);
        let run = audit(
            &["silent.pinscope.test:443".into()],
            &[dns.flag()],
            deadline,
        );
        assert_eq!(run.code, 3);
        let json = run.json();
        let t = target(&json, "silent.pinscope.test");
        assert_eq!(t["verdict"], "dns_error", "{t:#}");
        let (code, message) = first_finding(t);
        assert_eq!(code, "dns_no_answer");
        assert!(
            message.contains("the DNS server did not answer"),
            "{message}"
        );
        assert!(
            message.contains(&format!("no reply from {} within {secs}", dns.addr)),
            "{message}"
        );
        let ms = t["elapsed_ms"].as_u64().unwrap();
        assert!(ms < deadline * 1000, "{ms} ms for a {deadline} s deadline");
        assert!(!dns.questions().is_empty(), "pinscope never asked");
    }
}

#[test]
fn an_ipv6_only_name_is_reached_over_ipv6() {
    let lab = Lab::new();
    let host = "mdmenrollment.apple.com";
    let port = tls_server_v6(&lab.public.leaf(&[host], true));
    let (t, _dns) = passes_through_dns(&lab, host, port, Zone::v6(Ipv6Addr::LOCALHOST));
    assert_eq!(t["addresses"], serde_json::json!(["::1"]));
    assert_eq!(t["address_used"], "::1");
}

#[test]
fn every_address_is_returned_and_tried_ipv6_first() {
    // The name has both; only 127.0.0.1 serves, so ::1 is refused and IPv4 is used.
    let lab = Lab::new();
    let host = "deviceenrollment.apple.com";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let dns = DnsServer::start(&[(
        host,
        Zone {
            a: vec![Ipv4Addr::LOCALHOST],
            aaaa: vec![Ipv6Addr::LOCALHOST],
            ..Zone::default()
        },
    )]);
    let run = audit(
        &[format!("{host}:{port}")],
        &[dns.flag(), lab.public_roots()],
        5,
    );
    let json = run.json();
    let t = target(&json, host);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["addresses"], serde_json::json!(["::1", "127.0.0.1"]));
    assert_eq!(t["address_used"], "127.0.0.1");
}

#[test]
fn resolve_overrides_the_dns_server() {
    let lab = Lab::new();
    let host = "deviceenrollment.apple.com";
    let port = tls_server(&lab.public.leaf(&[host], true));
    // The DNS server would never answer for this name: --resolve must win without asking it.
    let dns = DnsServer::start(&[(host, Zone::silent())]);
    let run = audit(
        &[format!("{host}:{port}")],
        &[dns.flag(), lab.public_roots(), resolve(host, port)],
        5,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let t = target(&json, host);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["address_used"], "127.0.0.1");
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
    assert!(dns.questions().is_empty(), "{:?}", dns.questions());
}

#[test]
fn a_bad_dns_server_value_is_a_usage_error() {
    let run = pinscope(["audit", "gdmf.apple.com", "--dns-server=not-an-address"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("pinscope: error: --dns-server 'not-an-address'"),
        "{}",
        run.stderr
    );
}

#[test]
fn many_names_at_once_all_get_their_answer() {
    // 300 names, every one pointing at a port nobody listens on: each must come back as refused,
    // which proves it resolved; none may be lost to the resolver's own limits.
    let names: Vec<String> = (0..300).map(|i| format!("h{i}.pinscope.test")).collect();
    let zones: Vec<(&str, Zone)> = names
        .iter()
        .map(|n| (n.as_str(), Zone::v4(Ipv4Addr::LOCALHOST)))
        .collect();
    let dns = DnsServer::start(&zones);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let targets: Vec<String> = names.iter().map(|n| format!("{n}:{port}")).collect();
    let run = audit(&targets, &[dns.flag()], 5);
    let json = run.json();
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 300);
    for t in targets {
        assert_eq!(t["verdict"], "blocked", "{t:#}");
        assert_eq!(t["findings"][0]["code"], "connection_refused", "{t:#}");
    }
}

#[test]
fn a_name_used_by_three_rows_is_asked_once() {
    // courier.push.apple.com is on :5223, :443 and :80 in the catalog; here three refused ports,
    // probed one after the other (hickory merges identical queries in flight, not later ones).
    let host = "courier.push.apple.com";
    let dns = DnsServer::start(&[(host, Zone::v4(Ipv4Addr::LOCALHOST))]);
    let ports = [closed_port(), closed_port(), closed_port()];
    let targets: Vec<String> = ports.iter().map(|p| format!("{host}:{p}")).collect();
    let run = audit(
        &targets,
        &[dns.flag(), "-v".into(), "--concurrency=1".into()],
        5,
    );
    let json = run.json();
    for port in ports {
        let t = target_at(&json, host, port);
        assert_eq!(t["verdict"], "blocked", "{t:#}");
        assert_eq!(t["addresses"], serde_json::json!(["127.0.0.1"]), "{t:#}");
    }
    let mut asked = dns.questions();
    asked.sort();
    assert_eq!(asked, [format!("{host} A"), format!("{host} AAAA")]);
    assert!(
        run.stderr
            .contains("pinscope: dns: 1 name looked up, 2 answers from the cache"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_resolve_rule_for_one_port_leaves_the_others_to_dns() {
    let lab = Lab::new();
    let host = "deviceenrollment.apple.com";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let refused = closed_port();
    let dns = DnsServer::start(&[(host, Zone::v4(Ipv4Addr::LOCALHOST))]);
    let run = audit(
        &[format!("{host}:{port}"), format!("{host}:{refused}")],
        // The rule sends :port to 127.0.0.1 anyway; what counts is that it is not asked for.
        &[dns.flag(), lab.public_roots(), resolve(host, port)],
        5,
    );
    let json = run.json();
    assert_eq!(target_at(&json, host, port)["verdict"], "pass");
    assert_eq!(target_at(&json, host, refused)["verdict"], "blocked");
    assert_eq!(dns.questions().len(), 2, "{:?}", dns.questions());
}

/// More silent names than lookups run at once: those still queued when their deadline passes are
/// `dns_error` as well, and the run ends within its deadline.
#[test]
fn a_resolver_that_never_answers_is_a_dns_error_for_every_target() {
    let names: Vec<String> = (0..100).map(|i| format!("s{i}.pinscope.test")).collect();
    let zones: Vec<(&str, Zone)> = names.iter().map(|n| (n.as_str(), Zone::silent())).collect();
    let dns = DnsServer::start(&zones);
    let targets: Vec<String> = names.iter().map(|n| format!("{n}:443")).collect();
    let run = audit(&targets, &[dns.flag()], 2);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 100);
    let mut queued = 0;
    for t in targets {
        assert_eq!(t["verdict"], "dns_error", "{t:#}");
        let (code, message) = first_finding(t);
        assert_eq!(code, "dns_no_answer", "{t:#}");
        if message.contains("no answer from the resolver within 2s") {
            queued += 1;
        } else {
            assert!(
                message.contains("the DNS server did not answer"),
                "{message}"
            );
        }
    }
    // At most 32 names are asked at once, so most never reached the server within 2 s.
    assert!(queued > 0, "every name was asked at once");
    let mut asked: Vec<String> = dns
        .questions()
        .iter()
        .filter_map(|q| q.split(' ').next().map(str::to_owned))
        .collect();
    asked.sort();
    asked.dedup();
    // Two waves of 32 at most: at the start, and when the first gave up after 1.5 s.
    assert!(asked.len() <= 64, "{} names asked", asked.len());
}
