//! The non-TLS probes end to end: real HTTP, SNTP, SSH and QUIC servers on loopback, placed on
//! random ports with a user catalog whose rows say how to probe them (`probe = "…"`), and the built
//! binary run against them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Run, Scratch, pinscope};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// A lab catalog and how to run it
// ---------------------------------------------------------------------------------------------

/// A user catalog with a section of its own, and the `--resolve` rules that point its names at
/// loopback.
struct Lab {
    scratch: Scratch,
    toml: String,
    resolve: Vec<String>,
}

impl Lab {
    fn new() -> Self {
        Self {
            scratch: Scratch::new(),
            toml: "version = 1\n[[source]]\nid = \"lab\"\ntitle = \"Lab\"\n[[section]]\nid = \"lab\"\ntitle = \"Lab services\"\n".into(),
            resolve: Vec::new(),
        }
    }

    /// Adds `host` on loopback `port`; `probe` is the catalog's `probe` key, if any.
    fn add(&mut self, host: &str, port: u16, transport: &str, probe: Option<&str>) {
        self.toml.push_str(&format!(
            "[[entry]]\nhosts = [\"{host}\"]\nports = [{port}]\ntransport = \"{transport}\"\nsection = \"lab\"\nsource = \"lab\"\ndescription = \"Lab service\"\n"
        ));
        if let Some(p) = probe {
            self.toml.push_str(&format!("probe = \"{p}\"\n"));
        }
        self.resolve
            .push(format!("--resolve={host}:{port}:127.0.0.1"));
    }

    fn run(&self, timeout_secs: u32) -> Run {
        let catalog = self.scratch.file("lab.toml", &self.toml);
        let mut args = vec![
            "audit".to_string(),
            format!("--catalog={}", catalog.display()),
            "--section=lab".into(),
            format!("--timeout={timeout_secs}"),
            "--format=json".into(),
        ];
        args.extend(self.resolve.iter().cloned());
        let run = pinscope(&args);
        eprintln!("{}{}", run.stdout, run.stderr);
        run
    }
}

fn target<'a>(json: &'a Value, host: &str) -> &'a Value {
    json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["host"] == host)
        .unwrap_or_else(|| panic!("{host} not reported: {json:#}"))
}

fn codes(t: &Value) -> Vec<&str> {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

fn finding<'a>(t: &'a Value, code: &str) -> &'a str {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code}: {t:#}"))["message"]
        .as_str()
        .unwrap()
}

fn explanation(t: &Value) -> &str {
    t["explanation"].as_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// Answers every connection with `response` after reading the request head; keeps the requests.
fn http_server(response: &'static [u8]) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&seen);
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            keep.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let _ = s.write_all(response);
        }
    });
    (port, seen)
}

/// Sends `lines` on every connection; keeps the connection open for a while if `hold`.
fn ssh_server(lines: &'static [u8], hold: bool) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = s.write_all(lines);
                if hold {
                    std::thread::sleep(Duration::from_secs(10));
                }
            });
        }
    });
    port
}

/// This machine's clock as an NTP timestamp, moved by `skew` seconds.
fn ntp_now(skew: i64) -> u64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let secs = (d.as_secs() as i64 + 2_208_988_800 + skew) as u64 & 0xffff_ffff;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

#[derive(Clone, Copy)]
struct Sntp {
    leap: u8,
    stratum: u8,
    reference: [u8; 4],
    skew_secs: i64,
    /// Kiss-of-death replies carry no timestamps.
    no_time: bool,
}

const GOOD_SNTP: Sntp = Sntp {
    leap: 0,
    stratum: 1,
    reference: *b"GPS\0",
    skew_secs: 0,
    no_time: false,
};

/// An SNTP server (RFC 4330 §5) on a loopback UDP port.
fn sntp_server(cfg: Sntp) -> u16 {
    udp_server(move |req| {
        if req.len() < 48 {
            return None;
        }
        let mut r = vec![0u8; 48];
        r[0] = (cfg.leap << 6) | (4 << 3) | 4;
        r[1] = cfg.stratum;
        r[2] = 6;
        r[3] = 0xec;
        r[12..16].copy_from_slice(&cfg.reference);
        r[24..32].copy_from_slice(&req[40..48]);
        if !cfg.no_time {
            let now = ntp_now(cfg.skew_secs);
            r[16..24].copy_from_slice(&now.to_be_bytes());
            r[32..40].copy_from_slice(&now.to_be_bytes());
            r[40..48].copy_from_slice(&now.to_be_bytes());
        }
        Some(r)
    })
}

/// Answers a QUIC long-header packet with Version Negotiation listing `versions`.
fn quic_vn_server(versions: &'static [u32]) -> u16 {
    udp_server(move |req| {
        if req.len() < 7 || req[0] & 0x80 == 0 {
            return None;
        }
        let dcid_len = usize::from(req[5]);
        let dcid = req.get(6..6 + dcid_len)?;
        let scid_len = usize::from(*req.get(6 + dcid_len)?);
        let scid = req.get(7 + dcid_len..7 + dcid_len + scid_len)?;
        let mut vn = vec![0x80 | 0x2a, 0, 0, 0, 0];
        vn.push(scid.len() as u8);
        vn.extend_from_slice(scid);
        vn.push(dcid.len() as u8);
        vn.extend_from_slice(dcid);
        for v in versions {
            vn.extend_from_slice(&v.to_be_bytes());
        }
        Some(vn)
    })
}

/// A UDP port that answers each datagram with what `reply` makes of it (nothing for `None`).
fn udp_server(reply: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static) -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if let Some(r) = reply(&buf[..n]) {
                let _ = socket.send_to(&r, from);
            }
        }
    });
    port
}

/// A UDP port with nothing listening: datagrams to it draw ICMP port unreachable.
fn closed_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

#[test]
fn http_answers_pass_warn_about_proxies_and_catch_block_pages() {
    let (ok, requests) = http_server(
        b"HTTP/1.1 200 OK\r\nServer: lab\r\nContent-Type: text/html\r\nContent-Length: 7\r\n\r\nSuccess",
    );
    let (squid, _) = http_server(
        b"HTTP/1.1 200 OK\r\nVia: 1.1 squid\r\nX-Cache: MISS from proxy.corp\r\nContent-Length: 0\r\n\r\n",
    );
    let (redirect, _) = http_server(
        b"HTTP/1.1 302 Found\r\nLocation: http://blockpage.example/deny?url=captive\r\nContent-Length: 0\r\n\r\n",
    );
    let (portal, _) =
        http_server(b"HTTP/1.1 511 Network Authentication Required\r\nContent-Length: 0\r\n\r\n");
    let (garbage, _) = http_server(b"220 mail.lab.example ESMTP ready\r\n");
    let mut lab = Lab::new();
    lab.add("http-ok.lab.example", ok, "tcp", Some("http"));
    lab.add("http-squid.lab.example", squid, "tcp", Some("http"));
    lab.add("captive.apple.com", redirect, "tcp", Some("http"));
    lab.add("http-portal.lab.example", portal, "tcp", Some("http"));
    lab.add("http-garbage.lab.example", garbage, "tcp", Some("http"));
    let run = lab.run(5);
    assert_eq!(run.code, 3, "blocked and protocol_error are failures");
    let json = run.json();

    let t = target(&json, "http-ok.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert_eq!(codes(t), ["http_answered"]);
    assert_eq!(t["service"]["protocol"], "http");
    assert_eq!(t["service"]["status"], 200);
    assert!(finding(t, "http_answered").contains("HTTP 200 OK"));
    assert!(explanation(t).contains("answered plain HTTP"), "{t:#}");
    let sent = requests.lock().unwrap().join("");
    assert!(sent.starts_with("GET / HTTP/1.1\r\n"), "{sent}");
    assert!(
        sent.contains(&format!("Host: http-ok.lab.example:{ok}\r\n")),
        "{sent}"
    );
    assert!(sent.contains("User-Agent: pinscope/"), "{sent}");
    assert!(sent.contains("Connection: close\r\n"), "{sent}");

    let t = target(&json, "http-squid.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    assert!(has_code(t, "transparent_proxy"), "{t:#}");
    assert!(finding(t, "transparent_proxy").contains("Via: 1.1 squid"));
    assert!(explanation(t).contains("proxy"), "{t:#}");

    let t = target(&json, "captive.apple.com");
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    let block = finding(t, "block_page");
    assert!(block.contains("http://blockpage.example/deny"), "{block}");
    assert!(block.contains("captive portal"), "{block}");
    assert!(explanation(t).contains("web filter"), "{t:#}");

    let t = target(&json, "http-portal.lab.example");
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    assert!(finding(t, "block_page").contains("511"));

    let t = target(&json, "http-garbage.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(
        finding(t, "unexpected_answer").contains("220 mail.lab.example ESMTP ready"),
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
    let mut lab = Lab::new();
    lab.add("ntp-good.lab.example", good, "udp", Some("ntp"));
    lab.add("ntp-skewed.lab.example", skewed, "udp", Some("ntp"));
    lab.add("ntp-kiss.lab.example", kiss, "udp", Some("ntp"));
    lab.add("ntp-echo.lab.example", echo, "udp", Some("ntp"));
    lab.add("ntp-silent.lab.example", silent, "udp", Some("ntp"));
    lab.add("ntp-closed.lab.example", closed, "udp", Some("ntp"));
    let run = lab.run(2);
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
    assert!(finding(t, "ntp_answered").contains("reference GPS"));

    let t = target(&json, "ntp-skewed.lab.example");
    assert_eq!(t["verdict"], "pass", "{t:#}");
    let skew = finding(t, "clock_skew");
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
    assert!(finding(t, "ntp_unsynchronised").contains("'RATE'"));
    assert!(t["service"]["offset_ms"].is_null());
    assert!(explanation(t).contains("no usable time"), "{t:#}");

    let t = target(&json, "ntp-echo.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(finding(t, "unexpected_answer").contains("mode 3"), "{t:#}");
    assert!(explanation(t).contains("not with NTP"), "{t:#}");

    let t = target(&json, "ntp-silent.lab.example");
    assert_eq!(t["verdict"], "timeout", "{t:#}");
    assert!(finding(t, "timeout").contains("no NTP reply"), "{t:#}");
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
    let openssh = ssh_server(b"SSH-2.0-OpenSSH_9.6\r\n", true);
    let chatty = ssh_server(
        b"Welcome to the lab upload server\r\nAuthorised use only\r\nSSH-2.0-lab_1.0 comment\r\n",
        true,
    );
    let http = ssh_server(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        false,
    );
    let smtp = ssh_server(b"220 mail.lab.example ESMTP\r\n", true);
    let silent = common::silent_listener();
    let mut lab = Lab::new();
    // `ssh` rows are SSH whatever the port; one row says so explicitly.
    lab.add("ssh-ok.lab.example", openssh, "ssh", None);
    lab.add("ssh-chatty.lab.example", chatty, "tcp", Some("ssh"));
    lab.add("ssh-http.lab.example", http, "ssh", None);
    lab.add("ssh-smtp.lab.example", smtp, "ssh", None);
    lab.add("ssh-silent.lab.example", silent, "ssh", None);
    let run = lab.run(3);
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
        finding(t, "unexpected_answer").contains("HTTP/1.1 400 Bad Request"),
        "{t:#}"
    );
    assert!(explanation(t).contains("not with SSH"), "{t:#}");

    let t = target(&json, "ssh-smtp.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(finding(t, "unexpected_answer").contains("220 mail.lab.example ESMTP"));

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
    let mut lab = Lab::new();
    lab.add("quic-vn.lab.example", vn, "udp", Some("quic"));
    lab.add("quic-garbage.lab.example", garbage, "udp", Some("quic"));
    lab.add("quic-silent.lab.example", silent, "udp", Some("quic"));
    lab.add("quic-closed.lab.example", closed, "udp", Some("quic"));
    let run = lab.run(2);
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
    assert!(finding(t, "quic_version_negotiation").contains("QUIC v1, QUIC v2"));
    assert!(finding(t, "not_verified").contains("fall back to TCP 443"));
    assert!(explanation(t).contains("were not checked"), "{t:#}");

    let t = target(&json, "quic-garbage.lab.example");
    assert_eq!(t["verdict"], "protocol_error", "{t:#}");
    assert!(
        finding(t, "unexpected_answer").contains("not a QUIC long-header packet"),
        "{t:#}"
    );

    let t = target(&json, "quic-silent.lab.example");
    assert_eq!(t["verdict"], "timeout", "{t:#}");
    assert!(finding(t, "timeout").contains("no QUIC reply"), "{t:#}");
    assert!(t["elapsed_ms"].as_u64().unwrap() <= 2100, "{t:#}");

    let t = target(&json, "quic-closed.lab.example");
    assert_eq!(t["verdict"], "blocked", "{t:#}");
    assert!(
        finding(t, "connection_refused").contains("ICMP port unreachable"),
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
        eprintln!("skipping: python3 is not installed");
        return;
    };
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let Ok(port) = line.trim().parse::<u16>() else {
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("skipping: aioquic is not installed (pip install aioquic)");
        return;
    };
    let mut lab = Lab::new();
    lab.add("quic-real.lab.example", port, "udp", Some("quic"));
    let run = lab.run(3);
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
        let t = json["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["host"] == host && t["port"] == 123)
            .unwrap_or_else(|| panic!("{host}:123 not reported"));
        assert_eq!(t["transport"], "udp");
        assert!(
            ["blocked", "timeout"].contains(&t["verdict"].as_str().unwrap()),
            "{t:#}"
        );
        assert!(!has_code(t, "not_probed"), "{t:#}");
        assert!(explanation(t).contains("UDP 123"), "{t:#}");
    }
    // captive.apple.com:80 is probed with HTTP: nothing listens on loopback port 80.
    let captive = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["host"] == "captive.apple.com" && t["port"] == 80)
        .unwrap();
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
