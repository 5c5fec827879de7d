//! Load target for the benchmark (bench/run.py): one TLS server on loopback answering for every
//! name under `*.bench.test` with a certificate from a throwaway CA, optionally behind a relay
//! that delays every chunk in each direction by half the requested round trip (this machine has no
//! netem, so latency is added in user space), or a black hole that accepts and never answers.
//!
//! Usage: bench_server --ca-out FILE [--rtt-ms N] [--blackhole]
//! Prints the listening port on stdout, then serves until killed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fixture: failing loudly is right

use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let ca_out = value("--ca-out").expect("--ca-out FILE");
    let rtt_ms: u64 = value("--rtt-ms").map_or(0, |v| v.parse().expect("--rtt-ms N"));
    let blackhole = args.iter().any(|a| a == "--blackhole");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = listen();
        let port = listener.local_addr().unwrap().port();
        if blackhole {
            std::fs::write(&ca_out, "").unwrap();
            println!("{port}");
            let mut held = Vec::new();
            loop {
                if let Ok((s, _)) = listener.accept().await {
                    held.push(s);
                }
            }
        }
        let acceptor = tls_acceptor(&ca_out);
        let tls_listener = if rtt_ms > 0 {
            let inner = listen();
            let inner_port = inner.local_addr().unwrap().port();
            tokio::spawn(relay(
                listener,
                inner_port,
                Duration::from_millis(rtt_ms / 2),
            ));
            inner
        } else {
            listener
        };
        println!("{port}");
        loop {
            let Ok((stream, _)) = tls_listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
}

/// A listener with a backlog deep enough for thousands of simultaneous connects: with tokio's
/// default (1024) the kernel drops SYNs and clients wait a second for the retransmit, which
/// measures the server's backlog rather than the client.
fn listen() -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    socket.listen(4096).unwrap()
}

fn tls_acceptor(ca_out: &str) -> tokio_rustls::TlsAcceptor {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "pinscope bench CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(ca_out, ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["*.bench.test".to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "*.bench.test");
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone(), ca_cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Forwards each accepted connection to the server, delaying every chunk by `one_way`.
async fn relay(listener: TcpListener, server_port: u16, one_way: Duration) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)).await else {
                return;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(delayed_copy(cr, sw, one_way), delayed_copy(sr, cw, one_way));
        });
    }
}

async fn delayed_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        tokio::time::sleep(delay).await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
