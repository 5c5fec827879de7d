//! Every way a network can break a TLS connection, reproduced on 127.0.0.1, and what pinscope calls it:
//! the verdict, the finding code, a message that names the failure, and an end within the deadline.
//! The misbehaving servers, the lab PKI, the real TLS server and the runner are in `common`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

const HOST: &str = "failure.pinscope.test";

/// Runs `pinscope audit HOST:port` against 127.0.0.1 with `--timeout secs` and returns the run and
/// its only target; asserts the whole run ended within the deadline (plus process start-up).
fn audit(port: u16, secs: u64) -> (Run, serde_json::Value) {
    let run = audit_within(&[format!("{HOST}:{port}"), resolve(HOST, port)], secs);
    let t = run.json()["targets"][0].clone();
    assert!(
        t["elapsed_ms"].as_u64().unwrap() <= secs * 1000 + 500,
        "the target took {} ms with a {secs}s deadline",
        t["elapsed_ms"]
    );
    (run, t)
}

/// 64 bytes that are no protocol at all (a fixed xorshift sequence; the first byte is no TLS content type).
fn garbage() -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    let mut out = vec![0x8f];
    while out.len() < 64 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(x.to_le_bytes()[0]);
    }
    out
}

/// Reads the ClientHello and answers with random bytes, then stays open.
fn garbage_server() -> u16 {
    answering_server(garbage(), Duration::from_secs(5))
}

#[test]
fn connection_refused_is_blocked() {
    let port = closed_port();
    let (run, t) = audit(port, 5);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    let (code, message) = first_finding(&t);
    assert_eq!(code, "connection_refused");
    assert!(message.starts_with("connect: 127.0.0.1:"), "{message}");
    assert!(message.contains("refused"), "{message}");
    assert!(t["address_used"].is_null());
}

#[test]
fn reset_mid_handshake_is_blocked_as_a_reset() {
    let port = resetting_server();
    let (_, t) = audit(port, 5);
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    let (code, message) = first_finding(&t);
    assert_eq!(code, "connection_reset");
    assert!(message.starts_with("handshake: "), "{message}");
    assert!(message.contains("reset"), "{message}");
    assert!(message.contains("ClientHello"), "{message}");
    assert_eq!(t["address_used"], "127.0.0.1");
}

#[test]
fn silent_server_times_out_saying_nothing_came_back() {
    let port = silent_listener();
    let (_, t) = audit(port, 2);
    assert_eq!(t["verdict"], "timeout", "{t:#}");
    let (code, message) = first_finding(&t);
    assert_eq!(code, "timeout");
    assert_eq!(
        message,
        "handshake: connected, but the server sent nothing within 2s"
    );
    assert!(t["elapsed_ms"].as_u64().unwrap() >= 1900, "{t:#}");
}

#[test]
fn close_right_after_the_client_hello_is_blocked() {
    let port = closing_server();
    let (_, t) = audit(port, 5);
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    let (code, message) = first_finding(&t);
    assert_eq!(code, "connection_closed");
    assert!(message.contains("closed"), "{message}");
    assert!(message.contains("ClientHello"), "{message}");
}

#[test]
fn http_instead_of_tls_is_not_tls_and_quotes_the_answer() {
    let port = http_server();
    let (_, t) = audit(port, 5);
    assert_eq!(t["verdict"], "tls_error", "{t:#}");
    let (code, message) = first_finding(&t);
    assert_eq!(code, "not_tls");
    assert!(message.contains("did not answer with TLS"), "{message}");
    assert!(message.contains("'HTTP/1.1 400 Bad Request'"), "{message}");
}

#[test]
fn garbage_instead_of_tls_is_not_tls_and_shows_the_bytes() {
    let port = garbage_server();
    let (_, t) = audit(port, 5);
    assert_eq!(t["verdict"], "tls_error", "{t:#}");
    let (code, message) = first_finding(&t);
    assert_eq!(code, "not_tls");
    assert!(message.contains("did not answer with TLS"), "{message}");
    let first: Vec<String> = garbage()[..8].iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        message.contains(&format!("bytes {}", first.join(" "))),
        "{message}"
    );
}

#[test]
fn tls_alert_is_named() {
    let port = alert_server();
    let (_, t) = audit(port, 5);
    assert_eq!(t["verdict"], "tls_error", "{t:#}");
    let (code, message) = first_finding(&t);
    assert_eq!(code, "tls_alert");
    assert!(message.contains("alert"), "{message}");
    assert!(message.contains("handshake_failure"), "{message}");
}

#[test]
fn byte_at_a_time_server_times_out_within_the_deadline() {
    let lab = Ca::root("Lab Public Root");
    let upstream = tls_server(&lab.leaf(&[HOST], true));
    let port = byte_at_a_time_relay(upstream);
    let (_, t) = audit(port, 2);
    assert_eq!(t["verdict"], "timeout", "{t:#}");
    let (code, message) = first_finding(&t);
    assert_eq!(code, "timeout");
    assert!(
        message.starts_with("handshake: handshake did not finish within 2s ("),
        "{message}"
    );
    assert!(message.contains("bytes received"), "{message}");
}

#[test]
fn handshake_over_64_kib_is_refused_as_too_large() {
    // A real chain: root, 70 intermediates each signed by the one above (each padded with a 1 KB
    // private extension), and the leaf: the Certificate message is well over 64 KiB.
    let root = Ca::root("Lab Public Root");
    let mut cas = vec![root];
    for i in 0..70 {
        let next = cas.last().unwrap().intermediate(
            &format!("Lab Intermediate {i}"),
            "pinscope lab",
            vec![padding(1000)],
        );
        cas.push(next);
    }
    let served: Vec<&Ca> = cas[1..].iter().rev().collect();
    let leaf = cas.last().unwrap().leaf_with(&[HOST], Vec::new(), served);
    let size: usize = leaf.chain.iter().map(|c| c.len() + 5).sum();
    assert!(size > 65_536, "the chain is only {size} bytes");
    let port = tls_server(&leaf);

    let (_, t) = audit(port, 5);
    assert_eq!(t["verdict"], "tls_error", "{t:#}");
    let (code, message) = first_finding(&t);
    assert_eq!(code, "tls_protocol_error");
    assert!(message.contains("too large"), "{message}");
    assert!(message.contains("64 KiB"), "{message}");
    assert!(t["chain"].as_array().unwrap().is_empty(), "{t:#}");
}

/// The runner itself must not hang when every target misbehaves at once.
#[test]
fn all_failures_together_finish_within_one_deadline() {
    let ports = [
        closed_port(),
        resetting_server(),
        silent_listener(),
        closing_server(),
        http_server(),
        garbage_server(),
        alert_server(),
    ];
    let mut args = vec!["audit".to_string()];
    for p in ports {
        args.push(format!("{HOST}:{p}"));
    }
    args.extend([
        format!("--resolve=*:{}:127.0.0.1", ports[0]),
        "--timeout=2".into(),
        "--no-revocation".into(),
        "--format=json".into(),
    ]);
    for p in &ports[1..] {
        args.push(resolve(HOST, *p));
    }
    let run = pinscope(&args);
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
    let json = run.json();
    let verdicts: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        [
            "blocked",
            "blocked",
            "timeout",
            "blocked",
            "tls_error",
            "tls_error",
            "tls_error"
        ]
    );
}
