//! Plain-TCP servers on loopback: HTTP servers (revocation responders, captive portals, block
//! pages), banner servers (SSH, SMTP) and HTTP CONNECT proxies, scripted or tunnelling.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::run::loopback;

/// Reads a request head and any Content-Length body (so closing does not reset the connection);
/// returns the head.
pub fn read_request(s: &mut TcpStream) -> Option<String> {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(head)
}

/// The path (request target) of a request head.
pub fn request_path(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("")
}

/// An HTTP server on 127.0.0.1 that answers each request with what `answer` makes of its head,
/// and keeps the heads it received.
pub struct HttpServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    pub fn answering(answer: impl Fn(&str) -> Vec<u8> + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                let Some(head) = read_request(&mut s) else {
                    continue;
                };
                seen.lock().unwrap().push(head.clone());
                let _ = s.write_all(&answer(&head));
                let _ = s.flush();
            }
        });
        Self { port, requests }
    }

    /// Answers every request with the same bytes.
    pub fn fixed(response: &'static [u8]) -> Self {
        Self::answering(move |_| response.to_vec())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The request heads received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests it answered.
    pub fn hits(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// An HTTP response with this status line, content type and body, closing the connection.
pub fn http_response(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Sends `banner` on every connection without reading anything, then holds it open for `hold`.
pub fn banner_server(banner: &'static [u8], hold: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = s.write_all(banner);
                std::thread::sleep(hold);
            });
        }
    });
    port
}

/// An HTTP proxy that answers every CONNECT with `reply` and closes.
pub fn scripted_proxy(reply: &'static [u8]) -> u16 {
    HttpServer::fixed(reply).port
}

/// An HTTP CONNECT proxy that tunnels every request to 127.0.0.1 on the requested port (it
/// "resolves" every name to loopback).
pub fn tunnelling_proxy() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut client in l.incoming().flatten() {
            std::thread::spawn(move || {
                let Some(head) = read_request(&mut client) else {
                    return;
                };
                let target: u16 = request_path(&head)
                    .rsplit_once(':')
                    .and_then(|(_, p)| p.parse().ok())
                    .unwrap_or(0);
                let Ok(server) = TcpStream::connect(loopback(target)) else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    return;
                };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_read, &mut s_write);
                });
                let (mut s_read, mut c_write) = (server, client);
                let _ = std::io::copy(&mut s_read, &mut c_write);
            });
        }
    });
    port
}
