//! pinscope through proxies: the interception proxies people run (mitmproxy, squid with ssl_bump)
//! started for real on loopback, squid as a plain tunnel, and proxies that refuse or break the
//! tunnel in each of the ways an HTTP CONNECT can fail.
//!
//! mitmproxy and squid are installed by `.ci/run`. Without them these tests skip with a printed
//! reason, unless PINSCOPE_REQUIRE_INTERCEPTORS=1 (set in CI), which makes their absence fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// mitmproxy in regular (explicit proxy) mode. `lazy` lets it forge from the SNI alone, without
/// resolving the upstream name, which this machine could not do.
fn mitmproxy(scratch: &Scratch) -> Option<(Running, u16)> {
    let mitmdump = require_tool("mitmdump", INTERCEPTORS)?;
    let port = free_port();
    let mut child = Command::new(mitmdump)
        .args([
            "--mode",
            "regular",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
        ])
        .arg(port.to_string())
        .arg("--set")
        .arg(format!("confdir={}", scratch.path("mitm").display()))
        .args(["--set", "connection_strategy=lazy", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, &mut child, "mitmdump");
    Some((
        Running {
            child,
            cleanup: Vec::new(),
        },
        port,
    ))
}

fn audit_through(proxy_port: u16, targets: &[(&str, u16)], extra: &[String]) -> serde_json::Value {
    let mut args = vec![
        "audit".to_string(),
        format!("--proxy=http://127.0.0.1:{proxy_port}"),
        "--timeout=10".into(),
        "--no-revocation".into(),
        "--format=json".into(),
    ];
    args.extend(targets.iter().map(|(h, p)| format!("{h}:{p}")));
    args.extend(extra.iter().cloned());
    let run = pinscope(&args);
    assert_ne!(run.code, 2, "{}", run.stderr);
    run.json()
}

#[test]
fn mitmproxy_is_caught_and_named_on_every_tls_target() {
    let scratch = Scratch::new();
    let Some((_mitm, port)) = mitmproxy(&scratch) else {
        return;
    };
    let hosts = [
        "gdmf.apple.com",
        "deviceenrollment.apple.com",
        "courier.push.apple.com",
        "0a1b2c.devices.us-1.kandji.io",
    ];
    let ports = [443, 443, 5223, 443];
    let json = audit_through(
        port,
        &hosts.iter().copied().zip(ports).collect::<Vec<_>>(),
        &[],
    );
    for host in hosts {
        let t = target(&json, host);
        assert_eq!(t["verdict"], "intercepted", "{host}: {t:#}");
        assert_eq!(t["interception"]["product"], "mitmproxy", "{host}");
        assert_eq!(t["proxy"], format!("http://127.0.0.1:{port}"));
    }
    assert_eq!(json["summary"]["exit_code"], 1);
    // The catalog says deviceenrollment.apple.com does not work through proxies: a warning.
    assert!(
        codes(target(&json, "deviceenrollment.apple.com"))
            .contains(&"proxy_not_supported".to_string())
    );
    assert!(!has_code(
        target(&json, "gdmf.apple.com"),
        "proxy_not_supported"
    ));
    // Pinned hosts say which policy the forgery fails.
    assert_eq!(
        target(&json, "gdmf.apple.com")["apple_pinning"]["policy"],
        "Pallas"
    );
    assert_eq!(
        target(&json, "courier.push.apple.com")["apple_pinning"]["policy"],
        "APN"
    );
}

#[test]
fn squid_ssl_bump_is_caught_by_its_key_reuse_and_named() {
    let scratch = Scratch::new();
    let lab = Ca::root("Lab Public Root");
    let upstream = tls_server(&lab.leaf(&["deviceenrollment.apple.com", "gdmf.apple.com"], true));
    let hosts = ["deviceenrollment.apple.com", "gdmf.apple.com"];
    let Some((_squid, port)) = squid(&scratch, true, &hosts, None) else {
        return;
    };
    let roots = scratch.file("lab.pem", &lab.pem);
    let json = audit_through(
        port,
        &[(hosts[0], upstream), (hosts[1], upstream)],
        &[format!("--public-roots={}", roots.display())],
    );
    for host in hosts {
        let t = target(&json, host);
        assert_eq!(t["verdict"], "intercepted", "{host}: {t:#}");
        assert_eq!(t["interception"]["product"], "squid", "{host}");
        // squid signs every forged leaf with its CA's own key: evidence that needs no names.
        assert!(has_code(t, "leaf_key_equals_issuer_key"), "{host}: {t:#}");
    }
}

#[test]
fn squid_that_only_tunnels_leaves_the_chain_untouched() {
    let scratch = Scratch::new();
    let lab = Ca::root("Lab Public Root");
    let host = "deviceenrollment.apple.com";
    let upstream = tls_server(&lab.leaf(&[host], true));
    let Some((_squid, port)) = squid(&scratch, false, &[host], None) else {
        return;
    };
    let roots = scratch.file("lab.pem", &lab.pem);
    let json = audit_through(
        port,
        &[(host, upstream)],
        &[format!("--public-roots={}", roots.display())],
    );
    let t = target(&json, host);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["anchor"], "Lab Public Root");
    assert_eq!(t["proxy"], format!("http://127.0.0.1:{port}"));
}

#[test]
fn squids_denial_behind_a_200_is_judged_by_the_chain() {
    // squid answers a denied CONNECT with 200 and serves its error page inside a forged TLS
    // session: the status proves nothing, the chain does.
    let scratch = Scratch::new();
    let host = "mdmenrollment.apple.com";
    let Some((_squid, port)) = squid(&scratch, true, &[host], Some(host)) else {
        return;
    };
    let json = audit_through(port, &[(host, 443)], &[]);
    let t = target(&json, host);
    assert_eq!(t["verdict"], "intercepted", "{t:#}");
}

#[test]
fn every_way_a_proxy_can_refuse_is_a_proxy_error() {
    let cases: [(&[u8], &str, &str); 5] = [
        (b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n\r\n", "proxy_auth_required", "Apple services fail when a proxy requires authentication"),
        (b"HTTP/1.1 403 Forbidden\r\n\r\n", "proxy_refused", "403 Forbidden"),
        (b"HTTP/1.1 502 Bad Gateway\r\n\r\n", "proxy_upstream_error", "502 Bad Gateway"),
        (b"HTTP/1.1 200 Connection established\r\n\r\n", "proxy_closed", "closed the tunnel"),
        (b"SSH-2.0-not-a-proxy\r\n\r\n", "proxy_closed", "not HTTP"),
    ];
    for (reply, code, words) in cases {
        let port = scripted_proxy(reply);
        let json = audit_through(port, &[("albert.apple.com", 443)], &[]);
        let t = target(&json, "albert.apple.com");
        assert_eq!(t["verdict"], "proxy_error", "{code}: {t:#}");
        assert_eq!(codes(t)[0], code, "{t:#}");
        assert!(
            t["findings"][0]["message"]
                .as_str()
                .unwrap()
                .contains(words),
            "{t:#}"
        );
        assert_eq!(json["summary"]["exit_code"], 3);
    }
}

#[test]
fn a_proxy_that_never_answers_times_out_within_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let started = Instant::now();
    let run = pinscope([
        "audit".to_string(),
        "albert.apple.com".into(),
        format!("--proxy=http://127.0.0.1:{port}"),
        "--timeout=1".into(),
        "--no-revocation".into(),
        "--format=json".into(),
    ]);
    let t = &run.json()["targets"][0];
    assert_eq!(t["verdict"], "timeout", "{t:#}");
    assert!(
        t["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("CONNECT"),
        "{t:#}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    drop(listener);
}

#[test]
fn credentials_never_appear_and_the_environment_is_honoured() {
    let port = scripted_proxy(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
    // From the environment, with credentials in the URL.
    let out = pinscope_command()
        .args([
            "audit",
            "albert.apple.com",
            "--no-revocation",
            "--format=json",
            "--timeout=5",
        ])
        .env(
            "HTTPS_PROXY",
            format!("http://alice:hunter2@127.0.0.1:{port}"),
        )
        .env("NO_PROXY", "")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "credentials leaked:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("alice"), "user name leaked: {stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["targets"][0]["proxy"],
        format!("http://***@127.0.0.1:{port}")
    );
    assert_eq!(json["targets"][0]["verdict"], "proxy_error");
    assert_eq!(
        json["context"]["proxy"],
        serde_json::json!({"url": format!("http://***@127.0.0.1:{port}"), "from": "HTTPS_PROXY"})
    );

    // The table's footer says a proxy was taken from the environment, without its credentials.
    let out = pinscope_command()
        .args([
            "audit",
            "albert.apple.com",
            "--no-revocation",
            "--timeout=5",
        ])
        .env(
            "HTTPS_PROXY",
            format!("http://alice:hunter2@127.0.0.1:{port}"),
        )
        .env("NO_PROXY", "")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!(
            "\nRoute: through the proxy http://***@127.0.0.1:{port} (from HTTPS_PROXY)\n"
        )),
        "{table}"
    );
    assert!(
        !table.contains("hunter2") && !table.contains("alice"),
        "{table}"
    );

    // NO_PROXY exempts the host; --no-proxy ignores the environment.
    for (no_proxy, flag) in [("apple.com", None), ("", Some("--no-proxy"))] {
        let mut cmd = pinscope_command();
        cmd.args([
            "audit",
            "albert.apple.com:1",
            "--resolve=albert.apple.com:1:127.0.0.1",
            "--no-revocation",
            "--format=json",
            "--timeout=5",
        ])
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{port}"))
        .env("NO_PROXY", no_proxy);
        if let Some(f) = flag {
            cmd.arg(f);
        }
        let out = cmd.output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let t = &json["targets"][0];
        assert!(t["proxy"].is_null(), "{no_proxy:?} {flag:?}: {t:#}");
        if flag.is_some() {
            assert!(json["context"]["proxy"].is_null(), "{:#}", json["context"]);
        }
        assert_eq!(t["verdict"], "blocked", "direct to a closed port");
    }

    // A malformed proxy URL is a usage error that does not echo the password.
    let bad = pinscope([
        "audit",
        "albert.apple.com",
        "--proxy=socks4://bob:pa55@127.0.0.1:1",
    ]);
    assert_eq!(bad.code, 2);
    assert!(!bad.stderr.contains("pa55"), "{}", bad.stderr);
}
