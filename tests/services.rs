//! The non-TLS probes end to end: real HTTP, SNTP, SSH and QUIC servers on loopback, placed on
//! random ports with a user catalog whose rows say how to probe them (`probe = "…"`), and the built
//! binary run against them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// How long a banner server holds each connection open after its banner.
const HOLD: Duration = Duration::from_secs(10);

fn explanation(t: &Value) -> &str {
    t["explanation"].as_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

#[test]
fn http_answers_pass_warn_about_proxies_and_catch_block_pages() {
    let ok = HttpServer::fixed(
        b"HTTP/1.1 200 OK\r\nServer: lab\r\nContent-Type: text/html\r\nContent-Length: 7\r\n\r\nSuccess",
    );
    let squid = HttpServer::fixed(
        b"HTTP/1.1 200 OK\r\nVia: 1.1 squid\r\nX-Cache: MISS from proxy.corp\r\nContent-Length: 0\r\n\r\n",
    );
    let redirect = HttpServer::fixed(
        b"HTTP/1.1 302 Found\r\nLocation: http://blockpage.example/deny?url=captive\r\nContent-Length: 0\r\n\r\n",
    );
    let portal = HttpServer::fixed(
        b"HTTP/1.1 511 Network Authentication Required\r\nContent-Length: 0\r\n\r\n",
    );
    let garbage = HttpServer::fixed(b"220 mail.lab.example ESMTP ready\r\n");
    let mut lab = LabCatalog::new();
    lab.add("http-ok.lab.example", ok.port, "tcp", "probe = \"http\"");
    lab.add(
        "http-squid.lab.example",
        squid.port,
        "tcp",
        "probe = \"http\"",
    );
    lab.add(
        "captive.apple.com",
        redirect.port,
        "tcp",
        "probe = \"http\"",
    );
    lab.add(
        "http-portal.lab.example",
        portal.port,
        "tcp",
        "probe = \"http\"",
    );
    lab.add(
        "http-garbage.lab.example",
        garbage.port,
        "tcp",
        "probe = \"http\"",
    );
    let run = lab.audit(&["--timeout=5".into()]);
    assert_eq!(run.code, 3, "blocked and protocol_error are failures");
    let json = run.json();

    let t = target(&json, "http-ok.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(codes(t), ["http_answered"]);
    assert_eq!(t["service"]["protocol"], "http");
    assert_eq!(t["service"]["status"], 200);
    assert!(message(t, "http_answered").contains("HTTP 200 OK"));
    assert!(explanation(t).contains("answered plain HTTP"), "{t:#}");
    let sent = ok.requests().join("");
    assert!(sent.starts_with("GET / HTTP/1.1\r\n"), "{sent}");
    assert!(
        sent.contains(&format!("Host: http-ok.lab.example:{}\r\n", ok.port)),
        "{sent}"
    );
    assert!(sent.contains("User-Agent: pinscope/"), "{sent}");
    assert!(sent.contains("Connection: close\r\n"), "{sent}");

    let t = target(&json, "http-squid.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert!(has_code(t, "transparent_proxy"), "{t:#}");
    assert!(message(t, "transparent_proxy").contains("Via: 1.1 squid"));
    assert!(explanation(t).contains("proxy"), "{t:#}");

    let t = target(&json, "captive.apple.com");
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    let block = message(t, "block_page");
    assert!(block.contains("http://blockpage.example/deny"), "{block}");
    assert!(block.contains("captive portal"), "{block}");
    assert!(explanation(t).contains("web filter"), "{t:#}");

    let t = target(&json, "http-portal.lab.example");
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    assert!(message(t, "block_page").contains("511"));

    let t = target(&json, "http-garbage.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(
        message(t, "unexpected_answer").contains("220 mail.lab.example ESMTP ready"),
        "{t:#}"
    );
    assert!(explanation(t).contains("not with HTTP"), "{t:#}");
}

// ---------------------------------------------------------------------------------------------
// NTP
// ---------------------------------------------------------------------------------------------

#[test]
fn ntp_replies_are_measured_and_bad_clocks_are_reported() {
    let good = sntp_server(GOOD_SNTP);
    let skewed = sntp_server(Sntp {
        skew_secs: 30,
        stratum: 2,
        reference: [192, 0, 2, 1],
        ..GOOD_SNTP
    });
    let kiss = sntp_server(Sntp {
        leap: 3,
        stratum: 0,
        reference: *b"RATE",
        skew_secs: 0,
        no_time: true,
    });
    // Echoes the request back: a UDP echo service, not an NTP server.
    let echo = udp_server(|req| Some(req.to_vec()));
    let silent = udp_server(|_| None);
    let closed = closed_udp_port();
    let mut lab = LabCatalog::new();
    lab.add("ntp-good.lab.example", good, "udp", "probe = \"ntp\"");
    lab.add("ntp-skewed.lab.example", skewed, "udp", "probe = \"ntp\"");
    lab.add("ntp-kiss.lab.example", kiss, "udp", "probe = \"ntp\"");
    lab.add("ntp-echo.lab.example", echo, "udp", "probe = \"ntp\"");
    lab.add("ntp-silent.lab.example", silent, "udp", "probe = \"ntp\"");
    lab.add("ntp-closed.lab.example", closed, "udp", "probe = \"ntp\"");
    let run = lab.audit(&["--timeout=2".into()]);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
    let json = run.json();

    let t = target(&json, "ntp-good.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(codes(t), ["ntp_answered"]);
    assert_eq!(t["service"]["protocol"], "ntp");
    assert_eq!(t["service"]["stratum"], 1);
    assert_eq!(t["service"]["reference_id"], "GPS");
    let offset = t["service"]["offset_ms"].as_f64().unwrap();
    assert!(offset.abs() < 1000.0, "{offset}");
    assert!(message(t, "ntp_answered").contains("reference GPS"));

    let t = target(&json, "ntp-skewed.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    let skew = message(t, "clock_skew");
    assert!(skew.contains("ahead of this machine's"), "{skew}");
    let offset = t["service"]["offset_ms"].as_f64().unwrap();
    assert!((offset - 30_000.0).abs() < 1000.0, "{offset}");
    assert_eq!(t["service"]["reference_id"], "192.0.2.1");
    assert!(
        explanation(t).contains("Check this machine's clock"),
        "{t:#}"
    );

    let t = target(&json, "ntp-kiss.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(message(t, "ntp_unsynchronised").contains("'RATE'"));
    assert!(t["service"]["offset_ms"].is_null());
    assert!(explanation(t).contains("no usable time"), "{t:#}");

    let t = target(&json, "ntp-echo.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(message(t, "unexpected_answer").contains("mode 3"), "{t:#}");
    assert!(explanation(t).contains("not with NTP"), "{t:#}");

    let t = target(&json, "ntp-silent.lab.example");
    assert_eq!(t["verdict"], "timeout", "{t:#}");
    assert!(message(t, "timeout").contains("no NTP reply"), "{t:#}");
    assert!(explanation(t).contains("UDP"), "{t:#}");

    let t = target(&json, "ntp-closed.lab.example");
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    assert!(has_code(t, "connection_refused"), "{t:#}");
}

// ---------------------------------------------------------------------------------------------
// SSH
// ---------------------------------------------------------------------------------------------

#[test]
fn ssh_banners_are_read_without_sending_anything() {
    let openssh = banner_server(b"SSH-2.0-OpenSSH_9.6\r\n", HOLD);
    let chatty = banner_server(
        b"Welcome to the lab upload server\r\nAuthorised use only\r\nSSH-2.0-lab_1.0 comment\r\n",
        HOLD,
    );
    let http = banner_server(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        Duration::ZERO,
    );
    let smtp = banner_server(b"220 mail.lab.example ESMTP\r\n", HOLD);
    let silent = silent_listener();
    let mut lab = LabCatalog::new();
    // `ssh` rows are SSH whatever the port; one row says so explicitly.
    lab.add("ssh-ok.lab.example", openssh, "ssh", "");
    lab.add("ssh-chatty.lab.example", chatty, "tcp", "probe = \"ssh\"");
    lab.add("ssh-http.lab.example", http, "ssh", "");
    lab.add("ssh-smtp.lab.example", smtp, "ssh", "");
    lab.add("ssh-silent.lab.example", silent, "ssh", "");
    let run = lab.audit(&["--timeout=3".into()]);
    let json = run.json();

    let t = target(&json, "ssh-ok.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(codes(t), ["ssh_banner"]);
    assert_eq!(t["service"]["protocol"], "ssh");
    assert_eq!(t["service"]["banner"], "SSH-2.0-OpenSSH_9.6");
    assert!(explanation(t).contains("SSH server"), "{t:#}");

    let t = target(&json, "ssh-chatty.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(t["service"]["banner"], "SSH-2.0-lab_1.0 comment");

    let t = target(&json, "ssh-http.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(
        message(t, "unexpected_answer").contains("HTTP/1.1 400 Bad Request"),
        "{t:#}"
    );
    assert!(explanation(t).contains("not with SSH"), "{t:#}");

    let t = target(&json, "ssh-smtp.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(message(t, "unexpected_answer").contains("220 mail.lab.example ESMTP"));

    let t = target(&json, "ssh-silent.lab.example");
    assert_eq!(t["verdict"], "timeout", "{t:#}");
}

// ---------------------------------------------------------------------------------------------
// QUIC
// ---------------------------------------------------------------------------------------------

#[test]
fn quic_version_negotiation_passes_and_says_what_was_not_checked() {
    let vn = quic_vn_server(&[0x0000_0001, 0x6b33_43cf]);
    let garbage = udp_server(|_| Some(b"not quic at all".to_vec()));
    let silent = udp_server(|_| None);
    let closed = closed_udp_port();
    let mut lab = LabCatalog::new();
    lab.add("quic-vn.lab.example", vn, "udp", "probe = \"quic\"");
    lab.add(
        "quic-garbage.lab.example",
        garbage,
        "udp",
        "probe = \"quic\"",
    );
    lab.add("quic-silent.lab.example", silent, "udp", "probe = \"quic\"");
    lab.add("quic-closed.lab.example", closed, "udp", "probe = \"quic\"");
    let run = lab.audit(&["--timeout=2".into()]);
    // Every target, the silent one included, ends within its deadline.
    assert!(
        run.elapsed < Duration::from_millis(4500),
        "took {:?}",
        run.elapsed
    );
    let json = run.json();

    let t = target(&json, "quic-vn.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(codes(t), ["quic_version_negotiation", "not_verified"]);
    assert_eq!(t["service"]["protocol"], "quic");
    assert_eq!(
        t["service"]["versions"],
        serde_json::json!([1, 0x6b33_43cf_u32])
    );
    assert!(message(t, "quic_version_negotiation").contains("QUIC v1, QUIC v2"));
    assert!(message(t, "not_verified").contains("fall back to TCP 443"));
    assert!(explanation(t).contains("were not checked"), "{t:#}");

    let t = target(&json, "quic-garbage.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(
        message(t, "unexpected_answer").contains("not a QUIC long-header packet"),
        "{t:#}"
    );

    let t = target(&json, "quic-silent.lab.example");
    assert_eq!(t["verdict"], "timeout", "{t:#}");
    assert!(message(t, "timeout").contains("no QUIC reply"), "{t:#}");
    assert!(t["elapsed_ms"].as_u64().unwrap() <= 2100, "{t:#}");

    let t = target(&json, "quic-closed.lab.example");
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    assert!(
        message(t, "connection_refused").contains("ICMP port unreachable"),
        "{t:#}"
    );
}

/// A real QUIC implementation (aioquic, from PyPI) answers the probe. Skipped, with the reason
/// printed, where python3 or aioquic is not installed (`pip install aioquic`).
#[test]
fn a_real_quic_server_answers_with_version_negotiation() {
    const SERVER: &str = r#"
import asyncio, sys
from aioquic.asyncio import serve
from aioquic.quic.configuration import QuicConfiguration
async def main():
    server = await serve("127.0.0.1", 0, configuration=QuicConfiguration(is_client=False))
    print(server._transport.get_extra_info("sockname")[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"#;
    let Ok(mut child) = Command::new("python3")
        .args(["-c", SERVER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        if std::env::var("PINSCOPE_REQUIRE_QUIC").is_ok_and(|v| v == "1") {
            panic!("PINSCOPE_REQUIRE_QUIC=1 but python3 is not installed");
        }
        skip("python3 is not installed (set PINSCOPE_REQUIRE_QUIC=1 to require it)");
        return;
    };
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let Ok(port) = line.trim().parse::<u16>() else {
        let _ = child.kill();
        let _ = child.wait();
        if std::env::var("PINSCOPE_REQUIRE_QUIC").is_ok_and(|v| v == "1") {
            panic!("PINSCOPE_REQUIRE_QUIC=1 but aioquic is not installed (pip install aioquic)");
        }
        skip(
            "aioquic is not installed (pip install aioquic; set PINSCOPE_REQUIRE_QUIC=1 to \
             require it)",
        );
        return;
    };
    let mut lab = LabCatalog::new();
    lab.add("quic-real.lab.example", port, "udp", "probe = \"quic\"");
    let run = lab.audit(&["--timeout=3".into()]);
    // Closing its standard input ends the server.
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    let json = run.json();
    let t = target(&json, "quic-real.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    let versions = t["service"]["versions"].as_array().unwrap();
    assert!(versions.contains(&serde_json::json!(1)), "{t:#}");
}

// ---------------------------------------------------------------------------------------------
// The catalog
// ---------------------------------------------------------------------------------------------

#[test]
fn the_built_in_ntp_rows_are_probed_not_skipped() {
    // Every device-setup name points at loopback: nothing answers on UDP 123, 443 or 80 there.
    let run = pinscope([
        "audit",
        "--section=device-setup",
        "--resolve=*:123:127.0.0.1",
        "--resolve=*:443:127.0.0.1",
        "--resolve=*:80:127.0.0.1",
        "--timeout=2",
        "--format=json",
    ]);
    let json = run.json();
    for host in [
        "time.apple.com",
        "time-ios.apple.com",
        "time-macos.apple.com",
    ] {
        let t = target_at(&json, host, 123);
        assert_eq!(t["transport"], "udp");
        assert!(
            ["blocked", "timeout"].contains(&t["verdict"].as_str().unwrap()),
            "{t:#}"
        );
        assert!(!has_code(t, "not_probed"), "{t:#}");
        assert!(explanation(t).contains("UDP 123"), "{t:#}");
    }
    // captive.apple.com:80 is probed with HTTP: nothing listens on loopback port 80.
    let captive = target_at(&json, "captive.apple.com", 80);
    assert_ne!(captive["verdict"], "skipped", "{captive:#}");
}

#[test]
fn the_probe_key_must_fit_the_transport_and_is_listed() {
    let scratch = Scratch::new();
    let bad = scratch.file(
        "bad.toml",
        "version = 1\n[[entry]]\nhosts = [\"time.lab.example\"]\nports = [1123]\ntransport = \"tcp\"\nprobe = \"ntp\"\nsection = \"device-setup\"\nsource = \"apple-enterprise\"\n",
    );
    let run = pinscope([
        "catalog".to_string(),
        format!("--catalog={}", bad.display()),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("probe"), "{}", run.stderr);
    assert!(run.stderr.contains("\"udp\""), "{}", run.stderr);

    let good = scratch.file(
        "good.toml",
        "version = 1\n[[entry]]\nhosts = [\"proxy.lab.example\"]\nports = [8080]\ntransport = \"tcp\"\nprobe = \"http\"\nsection = \"device-setup\"\nsource = \"apple-enterprise\"\n",
    );
    let run = pinscope([
        "catalog".to_string(),
        format!("--catalog={}", good.display()),
        "--host=proxy.lab.example".into(),
        "--format=json".into(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()[0]["probe"], "http");
}
