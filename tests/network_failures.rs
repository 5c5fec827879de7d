//! Every way a network can break a TLS connection, reproduced on 127.0.0.1, and what pinscope calls it:
//! the verdict, the finding code, a message that names the failure, and an end within the deadline.
//! The misbehaving servers live here; `common` provides the lab PKI, the real TLS server and the
//! runner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;

const HOST: &str = "failure.pinscope.test";

/// Runs `pinscope audit HOST:port` against 127.0.0.1 with `--timeout secs` and returns the run and
/// its only target; asserts the whole run ended within the deadline (plus process start-up).
fn audit(port: u16, secs: u64) -> (Run, serde_json::Value) {
    let run = pinscope([
        "audit".to_string(),
        format!("{HOST}:{port}"),
        resolve(HOST, port),
        format!("--timeout={secs}"),
        "--no-revocation".into(),
        "--format=json".into(),
    ]);
    let json = run.json();
    let t = json["targets"][0].clone();
    let f = &t["findings"][0];
    eprintln!(
        "{HOST}:{port}: verdict={} code={} message={:?} ({} ms, run {:?})",
        t["verdict"], f["code"], f["message"], t["elapsed_ms"], run.elapsed
    );
    let limit = Duration::from_secs(secs + 2);
    assert!(
        run.elapsed < limit,
        "the run took {:?}, over the {secs}s deadline + 2s: {t:#}",
        run.elapsed
    );
    assert!(
        t["elapsed_ms"].as_u64().unwrap() <= secs * 1000 + 500,
        "the target took {} ms with a {secs}s deadline",
        t["elapsed_ms"]
    );
    (run, t)
}

fn first_finding(t: &serde_json::Value) -> (&str, &str) {
    let f = &t["findings"][0];
    (f["code"].as_str().unwrap(), f["message"].as_str().unwrap())
}

/// Reads one TLS record (the ClientHello) in full, so closing afterwards leaves nothing unread.
fn read_client_hello(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut header = [0u8; 5];
    if s.read_exact(&mut header).is_err() {
        return Vec::new();
    }
    let len = u16::from_be_bytes([header[3], header[4]]) as usize;
    let mut body = vec![0u8; len];
    let _ = s.read_exact(&mut body);
    let mut record = header.to_vec();
    record.extend(body);
    record
}

/// Accepts on 127.0.0.1:0 and runs `serve` for each connection in its own thread.
fn serve_each(serve: fn(TcpStream)) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    port
}

/// A port nothing listens on.
fn refusing_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Reads the ClientHello, then aborts the connection: SO_LINGER 0 makes close send a RST.
fn resetting_server() -> u16 {
    serve_each(|mut s| {
        read_client_hello(&mut s);
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    })
}

/// Accepts (the kernel completes the TCP handshake) and never says a word.
fn silent_server() -> u16 {
    serve_each(|s| {
        std::thread::sleep(Duration::from_secs(30));
        drop(s);
    })
}

/// Reads the ClientHello and closes cleanly (FIN), as SNI filters do.
fn closing_after_hello_server() -> u16 {
    serve_each(|mut s| {
        read_client_hello(&mut s);
        let _ = s.shutdown(Shutdown::Both);
    })
}

/// Reads the ClientHello, answers with an HTTP error and closes, as a web server on the wrong port does.
fn http_server() -> u16 {
    serve_each(|mut s| {
        read_client_hello(&mut s);
        let _ = s.write_all(
            b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        let _ = s.shutdown(Shutdown::Write);
        std::thread::sleep(Duration::from_secs(1));
    })
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
    serve_each(|mut s| {
        read_client_hello(&mut s);
        let _ = s.write_all(&garbage());
        std::thread::sleep(Duration::from_secs(5));
    })
}

/// Reads the ClientHello and answers with a fatal handshake_failure alert record.
fn alert_server() -> u16 {
    serve_each(|mut s| {
        read_client_hello(&mut s);
        // Alert record, TLS 1.2 framing, 2 bytes: level fatal (2), description handshake_failure (40).
        let _ = s.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
        std::thread::sleep(Duration::from_secs(2));
    })
}

/// A relay in front of `upstream` that passes the client's bytes at once but the server's one byte
/// every 50 ms: a path so slow that no handshake completes in time. Each relay gives up after 30 s.
fn byte_at_a_time_relay(upstream: u16) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let Ok(server) = TcpStream::connect(loopback(upstream)) else {
                continue;
            };
            let (mut c_read, mut s_write) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_read, &mut s_write);
            });
            let (mut s_read, mut c_write) = (server, client);
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut byte = [0u8; 1];
                while started.elapsed() < Duration::from_secs(30) {
                    match s_read.read(&mut byte) {
                        Ok(1) => {}
                        _ => return,
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    if c_write.write_all(&byte).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn connection_refused_is_blocked() {
    let port = refusing_port();
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
    let port = silent_server();
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
    let port = closing_after_hello_server();
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
    let padding = {
        let mut der = vec![0x04, 0x82, 0x03, 0xe8];
        der.extend(std::iter::repeat_n(0x5a, 1000));
        der
    };
    let mut cas = vec![root];
    for i in 0..70 {
        let ext = rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 32473, 1, 1],
            padding.clone(),
        );
        let next = cas.last().unwrap().intermediate(
            &format!("Lab Intermediate {i}"),
            "pinscope lab",
            vec![ext],
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
        refusing_port(),
        resetting_server(),
        silent_server(),
        closing_after_hello_server(),
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
