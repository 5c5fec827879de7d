//! `--pac` and the proxies a PAC can name, with real components on loopback: a PAC served over
//! HTTP sends one Apple host DIRECT, one to a real squid doing ssl_bump and one to a dead proxy
//! first and then DIRECT; a PAC that never ends is bounded; a SOCKS5 server (microsocks) carries a
//! lab target, by `--proxy socks5://` with a user and password and by a PAC's `SOCKS5` entry;
//! squid's `https_port` carries one as an HTTPS proxy; port 80 goes through an HTTP proxy in
//! absolute form; `--pac auto` finds WPAD; npm's pac-resolver agrees with pinscope's answers.
//!
//! squid and microsocks are installed by `.ci/run`. Without them these tests skip with a printed
//! reason, unless PINSCOPE_REQUIRE_INTERCEPTORS=1 / PINSCOPE_REQUIRE_SOCKS=1 (set in CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const SOCKS: &str = "PINSCOPE_REQUIRE_SOCKS";

/// microsocks on loopback, with a user and password when given.
fn microsocks(auth: Option<(&str, &str)>) -> Option<(Running, u16)> {
    let bin = require_tool("microsocks", SOCKS)?;
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((user, pass)) = auth {
        cmd.args(["-u", user, "-P", pass]);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, &mut child, "microsocks");
    Some((
        Running {
            child,
            cleanup: Vec::new(),
        },
        port,
    ))
}

fn serve_pac(pac: String) -> HttpServer {
    HttpServer::answering(move |_| {
        http_response(
            "200 OK",
            "application/x-ns-proxy-autoconfig",
            pac.as_bytes(),
        )
    })
}

#[test]
fn a_pac_sends_each_host_its_own_way_and_falls_back_past_a_dead_proxy() {
    let scratch = Scratch::new();
    let lab = Ca::root("Lab Public Root");
    let hosts = [
        "deviceenrollment.apple.com",
        "mdmenrollment.apple.com",
        "iprofiles.apple.com",
    ];
    let upstream = tls_server(&lab.leaf(&hosts, true));
    let Some((_squid, squid_port)) = squid(&scratch, true, &hosts, None) else {
        return;
    };
    let dead = closed_port();
    let pac = format!(
        r#"function FindProxyForURL(url, host) {{
            if (dnsDomainIs(host, "deviceenrollment.apple.com") && isResolvable(host)) return "DIRECT";
            if (shExpMatch(host, "iprofiles.*")) return "PROXY 127.0.0.1:{squid_port}";
            if (isInNet(host, "127.0.0.0", "255.0.0.0")) return "PROXY 127.0.0.1:{dead}; DIRECT";
            return "DIRECT";
        }}"#
    );
    let server = serve_pac(pac);
    let roots = scratch.file("lab.pem", &lab.pem);
    let mut args: Vec<String> = vec![
        "audit".into(),
        format!("--pac={}", server.url("/proxy.pac")),
        "--timeout=10".into(),
        "--no-revocation".into(),
        "--format=json".into(),
        format!("--public-roots={}", roots.display()),
    ];
    for h in hosts {
        args.push(format!("--resolve={h}:{upstream}:127.0.0.1"));
        args.push(format!("{h}:{upstream}"));
    }
    let run = pinscope(&args);
    assert_ne!(run.code, 2, "{}", run.stderr);
    let json = run.json();
    let pac_url = server.url("/proxy.pac");
    assert_eq!(json["context"]["pac"]["url"], pac_url.as_str(), "{json:#}");

    let direct = target(&json, "deviceenrollment.apple.com");
    assert_eq!(direct["verdict"], "pass", "{direct:#}");
    assert_eq!(direct["route"]["answer"], "DIRECT");
    assert_eq!(direct["route"]["chosen"], "DIRECT");
    assert_eq!(direct["route"]["failed"], serde_json::json!([]));

    let bumped = target(&json, "iprofiles.apple.com");
    assert_eq!(bumped["verdict"], "intercepted", "{bumped:#}");
    assert_eq!(bumped["interception"]["product"], "squid");
    let via_squid = format!("PROXY 127.0.0.1:{squid_port}");
    assert_eq!(bumped["route"]["chosen"], via_squid.as_str());
    assert_eq!(bumped["proxy"], format!("http://127.0.0.1:{squid_port}"));

    let fallback = target(&json, "mdmenrollment.apple.com");
    assert_eq!(fallback["verdict"], "pass", "{fallback:#}");
    assert_eq!(
        fallback["route"]["answer"],
        format!("PROXY 127.0.0.1:{dead}; DIRECT")
    );
    assert_eq!(fallback["route"]["chosen"], "DIRECT");
    let failed = &fallback["route"]["failed"][0];
    assert_eq!(failed["entry"], format!("PROXY 127.0.0.1:{dead}"));
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("could not connect to the proxy"),
        "{failed:#}"
    );
    assert!(fallback["proxy"].is_null());
}

#[test]
fn a_pac_that_never_ends_is_bounded_and_reported_for_its_target() {
    let scratch = Scratch::new();
    let pac = scratch.file(
        "loop.pac",
        "function FindProxyForURL(url, host) { var i = 0; while (true) { i++; } }",
    );
    let started = std::time::Instant::now();
    let run = pinscope([
        "audit",
        &format!("--pac={}", pac.display()),
        "--timeout=5",
        "--no-revocation",
        "--format=json",
        "--resolve=gdmf.apple.com:443:127.0.0.1",
        "gdmf.apple.com",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    let t = target(&json, "gdmf.apple.com");
    assert_eq!(t["verdict"], "proxy_error", "{t:#}");
    assert!(t["route"]["chosen"].is_null(), "{t:#}");
}

#[test]
fn a_pac_that_allocates_without_end_costs_its_own_target_only() {
    // Doubling a string exhausts any memory long before a step bound is reached: the PAC runs in
    // a memory-limited child, so the run goes on and only this target fails.
    let scratch = Scratch::new();
    let pac = scratch.file(
        "greedy.pac",
        "function FindProxyForURL(url, host) {\n\
           if (host == \"gdmf.apple.com\") { var s = \"x\"; while (true) { s = s + s; } }\n\
           return dnsResolve(host) == \"127.0.0.1\" ? \"DIRECT\" : \"PROXY 127.0.0.1:1\";\n\
         }\n",
    );
    let closed = closed_port();
    let run = pinscope([
        "audit".to_string(),
        format!("--pac={}", pac.display()),
        "--timeout=10".into(),
        "--no-revocation".into(),
        "--format=json".into(),
        "--resolve=gdmf.apple.com:443:127.0.0.1".into(),
        format!("--resolve=albert.apple.com:{closed}:127.0.0.1"),
        "gdmf.apple.com".into(),
        format!("albert.apple.com:{closed}"),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    let greedy = target(&json, "gdmf.apple.com");
    assert_eq!(greedy["verdict"], "proxy_error", "{greedy:#}");
    let message = greedy["findings"][0]["message"].as_str().unwrap();
    assert!(message.contains("MiB a PAC may use"), "{message}");
    // The other target's PAC call ran, asked the run's resolver (the --resolve rule) through the
    // parent, and went DIRECT to its closed port.
    let other = target(&json, "albert.apple.com");
    assert_eq!(other["route"]["chosen"], "DIRECT", "{other:#}");
    assert_eq!(other["verdict"], "blocked", "{other:#}");
}

#[test]
fn a_pac_that_does_not_load_is_bad_input_naming_the_file() {
    let scratch = Scratch::new();
    let pac = scratch.file(
        "broken.pac",
        "function FindProxyForURL(url, host) {\n  return (;\n}\n",
    );
    let run = pinscope([
        "audit",
        &format!("--pac={}", pac.display()),
        "gdmf.apple.com",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("broken.pac"), "{}", run.stderr);
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);
    let none = scratch.file("none.pac", "var x = 1;");
    let run = pinscope([
        "audit",
        &format!("--pac={}", none.display()),
        "gdmf.apple.com",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("FindProxyForURL"), "{}", run.stderr);
}

#[test]
fn a_socks5_server_carries_a_lab_target_with_credentials() {
    let scratch = Scratch::new();
    let lab = Ca::root("Lab Public Root");
    let host = "deviceenrollment.apple.com";
    let upstream = tls_server(&lab.leaf(&[host], true));
    let Some((_socks, port)) = microsocks(Some(("alice", "s3cret"))) else {
        return;
    };
    let roots = scratch.file("lab.pem", &lab.pem);
    // socks5:// resolves here (--resolve applies); the proxy is given the address.
    let run = pinscope([
        "audit".to_string(),
        format!("--proxy=socks5://alice:s3cret@127.0.0.1:{port}"),
        "--timeout=10".into(),
        "--no-revocation".into(),
        "--format=json".into(),
        format!("--public-roots={}", roots.display()),
        format!("--resolve={host}:{upstream}:127.0.0.1"),
        format!("{host}:{upstream}"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"));
    let json = run.json();
    let t = target(&json, host);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["proxy"], format!("socks5://***@127.0.0.1:{port}"));
}

#[test]
fn port_80_goes_through_an_http_proxy_in_absolute_form() {
    let proxy = HttpServer::answering(|_| {
        b"HTTP/1.1 200 OK\r\nVia: 1.1 proxy.lab (squid/6.13)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
    });
    let run = pinscope([
        "audit".to_string(),
        format!("--proxy=http://carol:pw80@127.0.0.1:{}", proxy.port),
        "--timeout=10".into(),
        "--no-revocation".into(),
        "--format=json".into(),
        "captive.apple.com:80".into(),
    ]);
    assert_ne!(run.code, 2, "{}", run.stderr);
    assert!(!run.stdout.contains("pw80"));
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let head = &requests[0];
    assert!(
        head.starts_with("GET http://captive.apple.com/ HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nHost: captive.apple.com\r\n"), "{head}");
    assert!(head.contains("\r\nProxy-Authorization: Basic "), "{head}");
    let json = run.json();
    let t = target_at(&json, "captive.apple.com", 80);
    assert_eq!(
        t["proxy"],
        format!("http://***@127.0.0.1:{}", proxy.port),
        "{t:#}"
    );
    assert!(!t["service"].is_null(), "{t:#}");
}

#[test]
fn an_https_proxy_carries_a_lab_target_and_its_own_bad_certificate_is_a_proxy_error() {
    let scratch = Scratch::new();
    let lab = Ca::root("Lab Public Root");
    let host = "deviceenrollment.apple.com";
    let upstream = tls_server(&lab.leaf(&[host], true));
    let proxy_ca = Ca::root("Corp Proxy CA");
    let Some((_squid, port)) = https_squid(&scratch, &proxy_ca, &[host]) else {
        return;
    };
    let roots = scratch.file("lab.pem", &lab.pem);
    let proxy_ca_file = scratch.file("proxy-ca.pem", &proxy_ca.pem);
    let audit = |extra: &[String]| {
        let mut args = vec![
            "audit".to_string(),
            format!("--proxy=https://localhost:{port}"),
            "--timeout=10".into(),
            "--no-revocation".into(),
            "--format=json".into(),
            format!("--public-roots={}", roots.display()),
            format!("{host}:{upstream}"),
        ];
        args.extend(extra.iter().cloned());
        let run = pinscope(&args);
        assert_ne!(run.code, 2, "{}", run.stderr);
        run.json()
    };
    let json = audit(&[format!("--proxy-cacert={}", proxy_ca_file.display())]);
    let t = target(&json, host);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["proxy"], format!("https://localhost:{port}"));

    // Without the proxy's CA its certificate does not verify: a proxy error saying so.
    let json = audit(&[]);
    let t = target(&json, host);
    assert_eq!(t["verdict"], "proxy_error", "{t:#}");
    assert!(
        t["explanation"]
            .as_str()
            .unwrap()
            .contains("TLS to the proxy"),
        "{t:#}"
    );
}

#[test]
fn pac_auto_finds_wpad_in_the_search_domains_and_names_it() {
    let scratch = Scratch::new();
    let lab = Ca::root("Lab Public Root");
    let host = "deviceenrollment.apple.com";
    let upstream = tls_server(&lab.leaf(&[host], true));
    let server = serve_pac("function FindProxyForURL(u, h) { return 'DIRECT'; }".into());
    let roots = scratch.file("lab.pem", &lab.pem);
    let run = pinscope([
        "audit".to_string(),
        "--pac=auto".into(),
        // wpad.eng.lab.test (tried first) is a closed loopback port; wpad.lab.test answers.
        "--wpad-domain=eng.lab.test".into(),
        format!(
            "--connect-to=wpad.eng.lab.test:80:127.0.0.1:{}",
            closed_port()
        ),
        format!("--connect-to=wpad.lab.test:80:127.0.0.1:{}", server.port),
        format!("--resolve={host}:{upstream}:127.0.0.1"),
        "--timeout=10".into(),
        "--no-revocation".into(),
        "--format=json".into(),
        format!("--public-roots={}", roots.display()),
        format!("{host}:{upstream}"),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stderr, run.stdout);
    let json = run.json();
    assert_eq!(
        json["context"]["pac"]["url"],
        "http://wpad.lab.test/wpad.dat"
    );
    assert_eq!(json["context"]["pac"]["from"], "WPAD");
    let t = target(&json, host);
    assert_eq!(t["route"]["chosen"], "DIRECT", "{t:#}");
    assert_eq!(t["route"]["pac"], "http://wpad.lab.test/wpad.dat");
    assert_eq!(server.hits(), 1);
}

/// Where `.ci/run` installed npm's pac-resolver (PINSCOPE_PAC_RESOLVER_DIR, its node_modules
/// inside); without it the test skips, unless PINSCOPE_REQUIRE_NODE=1.
fn pac_resolver() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let node = require_tool("node", "PINSCOPE_REQUIRE_NODE")?;
    let dir = std::env::var_os("PINSCOPE_PAC_RESOLVER_DIR")
        .map(std::path::PathBuf::from)
        .filter(|d| d.join("node_modules/pac-resolver").is_dir());
    match dir {
        Some(d) => Some((node, d.join("node_modules"))),
        None if std::env::var_os("PINSCOPE_REQUIRE_NODE").is_some_and(|v| v == "1") => {
            panic!("PINSCOPE_REQUIRE_NODE=1 but PINSCOPE_PAC_RESOLVER_DIR has no pac-resolver")
        }
        None => {
            skip("PINSCOPE_PAC_RESOLVER_DIR has no pac-resolver (see .ci/run)");
            None
        }
    }
}

#[test]
fn pac_resolver_from_npm_gives_the_same_answers_for_the_catalogs_hosts() {
    let Some((node, modules)) = pac_resolver() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["exemptions.pac", "ports.pac"] {
        let pac = root.join("fixtures/pac").join(file);
        // Every catalog row, each connection sent to a closed loopback port: only the PAC's
        // answers matter here, and no name is looked up outside this machine.
        let run = pinscope_within(
            [
                "audit".to_string(),
                format!("--pac={}", pac.display()),
                format!("--connect-to=::127.0.0.1:{}", closed_port()),
                "--timeout=20".into(),
                "--concurrency=16".into(),
                "--no-revocation".into(),
                "--format=json".into(),
            ],
            Duration::from_secs(300),
        );
        assert_ne!(run.code, 2, "{}", run.stderr);
        let json = run.json();
        let mut pairs = Vec::new();
        let mut ours = Vec::new();
        for t in json["targets"].as_array().unwrap() {
            let Some(route) = t["route"].as_object() else {
                continue;
            };
            let host = t["host"].as_str().unwrap();
            let port = t["port"].as_u64().unwrap();
            let url = match port {
                80 => format!("http://{host}/"),
                443 => format!("https://{host}/"),
                p => format!("https://{host}:{p}/"),
            };
            pairs.push(serde_json::json!([url, host]));
            ours.push(route["answer"].as_str().unwrap().to_owned());
        }
        assert!(pairs.len() > 100, "{file}: only {} routes", pairs.len());
        let input = serde_json::to_vec(&pairs).unwrap();
        let out = output_with_stdin(
            Command::new(&node)
                .arg(root.join("tools/pac_second_opinion.js"))
                .arg(&pac)
                .env("NODE_PATH", &modules),
            &input,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(theirs.len(), ours.len());
        for ((pair, ours), theirs) in pairs.iter().zip(&ours).zip(&theirs) {
            assert_eq!(ours, theirs, "{file}: {pair}");
        }
    }
}

#[test]
fn a_pacs_socks5_entry_lets_the_proxy_resolve_the_name() {
    let scratch = Scratch::new();
    let lab = Ca::root("Lab Public Root");
    // microsocks asks the system resolver; "localhost" is the one name it can answer here.
    let host = "localhost";
    let upstream = tls_server(&lab.leaf(&[host], true));
    let Some((_socks, port)) = microsocks(None) else {
        return;
    };
    let dead = closed_port();
    let pac = scratch.file(
        "socks.pac",
        &format!(
            "function FindProxyForURL(u, h) {{ return 'SOCKS5 127.0.0.1:{dead}; SOCKS5 127.0.0.1:{port}'; }}"
        ),
    );
    let roots = scratch.file("lab.pem", &lab.pem);
    let run = pinscope([
        "audit".to_string(),
        format!("--pac={}", pac.display()),
        "--timeout=10".into(),
        "--no-revocation".into(),
        "--format=json".into(),
        format!("--public-roots={}", roots.display()),
        format!("{host}:{upstream}"),
    ]);
    assert_ne!(run.code, 2, "{}", run.stderr);
    let json = run.json();
    let t = target(&json, host);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["route"]["chosen"], format!("SOCKS5 127.0.0.1:{port}"));
    assert_eq!(
        t["route"]["failed"][0]["entry"],
        format!("SOCKS5 127.0.0.1:{dead}")
    );
    assert_eq!(t["proxy"], format!("socks5h://127.0.0.1:{port}"));
}
