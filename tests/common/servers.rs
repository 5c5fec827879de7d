//! Servers on loopback that speak TLS, and listeners that break a TLS connection in the ways
//! networks do (refuse, stay silent, reset, close, answer with something else). Each lives until
//! the test process ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::pki::Leaf;
use super::run::loopback;

/// A TLS server configuration that presents `leaf`, with the given protocol versions.
fn server_config(
    leaf: &Leaf,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), leaf.key.clone_key())
        .unwrap()
}

/// Serves TLS with the given chain on 127.0.0.1 until the test process ends; returns the port.
pub fn tls_server(leaf: &Leaf) -> u16 {
    serve(server_config(leaf, rustls::DEFAULT_VERSIONS))
}

/// Serves TLS with `leaf` on [::1]; returns the port.
pub fn tls_server_v6(leaf: &Leaf) -> u16 {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_on(server_config(leaf, rustls::DEFAULT_VERSIONS), listener);
    port
}

/// A TLS server on a catalog port (e.g. 443) at a random address in 127.0.0.0/8, so built-in
/// catalog rows can be probed as they are. `None` (after printing why) when this user may not bind
/// that port.
pub fn tls_server_on_catalog_port(leaf: &Leaf, port: u16, tls12_only: bool) -> Option<SocketAddr> {
    let n = std::process::id() as u64 * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    let ip = std::net::Ipv4Addr::new(
        127,
        10 + (n % 200) as u8,
        ((n / 200) % 250) as u8 + 1,
        ((n / 50_000) % 250) as u8 + 1,
    );
    let listener = match TcpListener::bind((ip, port)) {
        Ok(l) => l,
        Err(e) => {
            super::tools::skip(&format!(
                "cannot bind {ip}:{port} ({e}); run as root, as CI does"
            ));
            return None;
        }
    };
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    serve_on(server_config(leaf, versions), listener);
    Some(SocketAddr::from((ip, port)))
}

/// Runs a TLS server with this configuration on 127.0.0.1 until the test process ends.
fn serve(config: rustls::ServerConfig) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_on(config, listener);
    port
}

fn serve_on(config: rustls::ServerConfig, listener: TcpListener) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    serve_async_on(listener, move |stream| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(mut tls) = acceptor.accept(stream).await {
                let _ = tls.shutdown().await;
            }
        }
    });
}

/// Serves whichever certificate it was last given: `swap` changes it in place, as a real
/// server's rotation (or a middlebox's substitution) changes what one host:port presents.
#[derive(Debug)]
pub struct SwappableCert(std::sync::Mutex<Arc<rustls::sign::CertifiedKey>>);

impl SwappableCert {
    fn certified(leaf: &Leaf) -> Arc<rustls::sign::CertifiedKey> {
        let provider = rustls::crypto::ring::default_provider();
        let key = provider
            .key_provider
            .load_private_key(leaf.key.clone_key())
            .unwrap();
        Arc::new(rustls::sign::CertifiedKey::new(leaf.chain.clone(), key))
    }

    pub fn swap(&self, leaf: &Leaf) {
        *self.0.lock().unwrap() = Self::certified(leaf);
    }
}

impl rustls::server::ResolvesServerCert for SwappableCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0.lock().unwrap()))
    }
}

/// A TLS server on 127.0.0.1 whose certificate can be swapped; returns the port and the handle.
pub fn swappable_tls_server(leaf: &Leaf) -> (u16, Arc<SwappableCert>) {
    let cert = Arc::new(SwappableCert(std::sync::Mutex::new(
        SwappableCert::certified(leaf),
    )));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&cert) as Arc<dyn rustls::server::ResolvesServerCert>);
    (serve(config), cert)
}

/// Serves each connection on `listener` with `handle`, on a thread of its own running a small
/// async runtime, so thousands of connections cost no thread each.
fn serve_async_on<F, Fut>(listener: TcpListener, handle: F)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(handle(stream));
                }
            }
        });
    });
}

/// Serves each connection to a new port on 127.0.0.1 with `handle`; returns the port.
pub fn serve_async<F, Fut>(handle: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_async_on(listener, handle);
    port
}

/// Reads one TLS record (the ClientHello) in full, so closing afterwards leaves nothing unread.
pub async fn read_client_hello(s: &mut tokio::net::TcpStream) {
    let mut header = [0u8; 5];
    if s.read_exact(&mut header).await.is_err() {
        return;
    }
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
    let _ = s.read_exact(&mut body).await;
}

/// A port with nothing listening: connections are refused.
pub fn closed_port() -> u16 {
    free_port()
}

/// A port on 127.0.0.1 that was free a moment ago, for a server that binds it itself.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A listener that accepts (the kernel completes the TCP handshake) but never says anything.
pub fn silent_listener() -> u16 {
    silent_listener_counted().0
}

/// A silent listener that counts the connections it accepted, so a test can tell that a run has
/// got as far as connecting (rather than guessing with a sleep).
pub fn silent_listener_counted() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, count)
}

/// Reads the ClientHello, then aborts the connection: SO_LINGER 0 makes close send a RST.
pub fn resetting_server() -> u16 {
    serve_async(|mut s| async move {
        read_client_hello(&mut s).await;
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    })
}

/// Reads the ClientHello and closes cleanly (FIN) without a word, as SNI filters do.
pub fn closing_server() -> u16 {
    serve_async(|mut s| async move {
        read_client_hello(&mut s).await;
        let _ = s.shutdown().await;
        let mut rest = [0u8; 64];
        let _ = s.read(&mut rest).await;
    })
}

/// Reads the ClientHello, answers with an HTTP error and closes, as a web server on the wrong
/// port does.
pub fn http_server() -> u16 {
    serve_async(|mut s| async move {
        read_client_hello(&mut s).await;
        let _ = s
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        let _ = s.shutdown().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
}

/// Reads the ClientHello and answers with `bytes`, then holds the connection for `hold`.
pub fn answering_server(bytes: Vec<u8>, hold: Duration) -> u16 {
    serve_async(move |mut s| {
        let bytes = bytes.clone();
        async move {
            read_client_hello(&mut s).await;
            let _ = s.write_all(&bytes).await;
            tokio::time::sleep(hold).await;
        }
    })
}

/// Reads the ClientHello and answers with a fatal handshake_failure alert record.
pub fn alert_server() -> u16 {
    // Alert record, TLS 1.2 framing, 2 bytes: level fatal (2), description handshake_failure (40).
    answering_server(
        vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
        Duration::from_secs(2),
    )
}

/// A relay in front of `upstream` that passes the client's bytes at once but the server's one byte
/// every 50 ms: a path so slow that no handshake completes in time. Each relay gives up after 30 s.
pub fn byte_at_a_time_relay(upstream: u16) -> u16 {
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

/// Waits until something listens on `port`, failing if `child` exits first or 30 s pass.
pub fn wait_for_port(port: u16, child: &mut std::process::Child, what: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not start listening on {port} within 30 s");
}
