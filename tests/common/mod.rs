//! Test support: lab PKIs made with rcgen, real TLS servers on 127.0.0.1, listeners that misbehave in
//! the ways networks do, and a runner for the built binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority made for a test.
pub struct Ca {
    pub cert_der: CertificateDer<'static>,
    pub pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf (or intermediate) with its key and the chain to serve.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub pem: String,
}

fn name(cn: &str, org: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, org);
    dn
}

fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(30);
}

/// A private key from PEM in PKCS#8, PKCS#1 (RSA) or SEC1 form. ring, behind rcgen, reads only
/// PKCS#8, so an RSA key in PKCS#1 is wrapped first.
fn key_from_pem(pem: &str) -> KeyPair {
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let pkcs8 = match &der {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        PrivateKeyDer::Pkcs1(k) => {
            // PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier rsaEncryption, OCTET STRING key }
            let alg = [
                0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
                0x00,
            ];
            let mut body = vec![0x02, 0x01, 0x00];
            body.extend_from_slice(&alg);
            body.extend(der_tlv(0x04, k.secret_pkcs1_der()));
            der_tlv(0x30, &body)
        }
        other => panic!("unsupported key form {other:?}"),
    };
    KeyPair::try_from(pkcs8.as_slice()).unwrap()
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A dotted OID as rcgen wants it.
fn arcs(oid: &str) -> Vec<u64> {
    oid.split('.').map(|a| a.parse().unwrap()).collect()
}

/// An extension carrying no value (ASN.1 NULL), as Apple's marker extensions do.
pub fn marker(oid: &str) -> CustomExtension {
    CustomExtension::from_oid_content(&arcs(oid), vec![0x05, 0x00])
}

fn ca_params(cn: &str, org: &str, extensions: Vec<CustomExtension>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn, org);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.custom_extensions = extensions;
    validity(&mut params);
    params
}

impl Ca {
    /// A self-signed root.
    pub fn root(cn: &str) -> Self {
        Self::root_with(cn, "pinscope lab", Vec::new())
    }

    /// A self-signed root with the given organisation and extensions.
    pub fn root_with(cn: &str, org: &str, extensions: Vec<CustomExtension>) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, org, extensions);
        let cert = params.self_signed(&key).unwrap();
        Self {
            cert_der: cert.der().clone(),
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, cn: &str, org: &str, extensions: Vec<CustomExtension>) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, org, extensions);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Self {
            cert_der: cert.der().clone(),
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A real CA whose certificate and private key are given (PEM), e.g. an interception product's.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Self {
        let key = key_from_pem(key_pem);
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).unwrap();
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        Self {
            cert_der,
            pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer,
        }
    }

    /// The CA's private key in PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A server certificate for `names`, signed by this CA; the served chain is leaf + this CA
    /// unless `send_ca` is false.
    pub fn leaf(&self, names: &[&str], send_ca: bool) -> Leaf {
        let chain = if send_ca { vec![self] } else { Vec::new() };
        self.leaf_with(names, Vec::new(), chain)
    }

    /// A server certificate with extensions; `chain` lists the CA certificates sent after it.
    pub fn leaf_with(
        &self,
        names: &[&str],
        extensions: Vec<CustomExtension>,
        chain: Vec<&Ca>,
    ) -> Leaf {
        let key = KeyPair::generate().unwrap();
        self.sign_leaf(names, extensions, chain, key)
    }

    /// A leaf whose key is this CA's own key, as mitmproxy and squid make them; chain: leaf + CA.
    pub fn leaf_reusing_ca_key(&self, names: &[&str]) -> Leaf {
        let key = key_from_pem(&self.key_pem);
        self.sign_leaf(names, Vec::new(), vec![self], key)
    }

    fn sign_leaf(
        &self,
        names: &[&str],
        extensions: Vec<CustomExtension>,
        chain: Vec<&Ca>,
        key: KeyPair,
    ) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name = name(names[0], "pinscope lab server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.custom_extensions = extensions;
        validity(&mut params);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let mut ders = vec![cert.der().clone()];
        let mut pem = cert.pem();
        for ca in chain {
            ders.push(ca.cert_der.clone());
            pem.push_str(&ca.pem);
        }
        Leaf {
            chain: ders,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            pem,
        }
    }
}

/// A self-signed server certificate (no CA at all).
pub fn self_signed_leaf(host: &str) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
    params.distinguished_name = name(host, "self-signed");
    validity(&mut params);
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        pem: cert.pem(),
    }
}

/// Serves TLS with the given chain on 127.0.0.1 until the test process ends; returns the port.
pub fn tls_server(leaf: &Leaf) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), leaf.key.clone_key())
        .unwrap();
    serve(config)
}

/// A TLS server on a catalog port (e.g. 443) at a random address in 127.0.0.0/8, so built-in
/// catalog rows can be probed as they are. `None` (after printing why) when this user may not bind
/// that port.
pub fn tls_server_on_catalog_port(
    leaf: &Leaf,
    port: u16,
    tls12_only: bool,
) -> Option<std::net::SocketAddr> {
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
            eprintln!("skipping: cannot bind {ip}:{port} ({e}); run as root, as CI does");
            return None;
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain.clone(), leaf.key.clone_key())
        .unwrap();
    serve_on(config, listener);
    Some(std::net::SocketAddr::from((ip, port)))
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
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(stream).await {
                        use tokio::io::AsyncWriteExt;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
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

/// A port with nothing listening: connections are refused.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A listener that accepts (the kernel completes the TCP handshake) but never says anything.
pub fn silent_listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// Answers every connection with an HTTP response instead of TLS.
pub fn http_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

/// Reads the ClientHello and closes without a word (what SNI filters do).
pub fn closing_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            drop(s);
        }
    });
    port
}

/// A temporary directory that holds the files a test hands to pinscope.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The result of running the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn pinscope<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let started = Instant::now();
    let out: Output = Command::new(env!("CARGO_BIN_EXE_pinscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run pinscope");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// `--resolve host:port:127.0.0.1`
pub fn resolve(host: &str, port: u16) -> String {
    format!("--resolve={host}:{port}:127.0.0.1")
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The folder of real certificates beside the project, or `None` (with the reason printed) when
/// it is absent and not required. With PINSCOPE_REQUIRE_REFERENCE=1 its absence fails the test.
pub fn reference() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("PINSCOPE_REQUIRE_REFERENCE").is_ok_and(|v| v == "1") {
        panic!(
            "PINSCOPE_REQUIRE_REFERENCE=1 but {} does not exist",
            dir.display()
        );
    }
    eprintln!(
        "skipping: {} is absent (set PINSCOPE_REQUIRE_REFERENCE=1 to require it)",
        dir.display()
    );
    None
}

/// The finding codes of one target of a JSON report, in order.
#[allow(dead_code)]
pub fn codes(t: &serde_json::Value) -> Vec<String> {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether the `openssl` command can be used. Tests that build certificates the way real products
/// do (SHA-1, RSA-1024, `openssl req -x509`) skip with a printed reason when it is absent, unless
/// PINSCOPE_REQUIRE_OPENSSL=1, which makes its absence a failure.
#[allow(dead_code)]
pub fn openssl_available() -> bool {
    let ok = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("PINSCOPE_REQUIRE_OPENSSL").is_ok_and(|v| v == "1") {
            panic!("PINSCOPE_REQUIRE_OPENSSL=1 but the openssl command is not available");
        }
        eprintln!(
            "skipping: openssl is not installed (set PINSCOPE_REQUIRE_OPENSSL=1 to require it)"
        );
    }
    ok
}

/// Runs `openssl` with these arguments in `dir`; panics with its stderr when it fails.
#[allow(dead_code)]
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
