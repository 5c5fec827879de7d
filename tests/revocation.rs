//! Revocation checks against real responders on 127.0.0.1: `openssl ocsp` answering from an index
//! file, CRLs made with rcgen served by a small HTTP server, and servers that misbehave the way
//! networks do (refused, silent, block pages, endless redirects, oversized answers). Each test
//! serves a lab chain whose leaf names those URLs and runs `pinscope audit` against it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rcgen::{CertificateParams, CrlDistributionPoint, ExtendedKeyUsagePurpose, SerialNumber};
use serde_json::Value;

/// A host Apple does not pin, so only the lab root decides the chain.
const HOST: &str = "deviceenrollment.apple.com";

// ---------------------------------------------------------------------------------------------
// Lab PKI: root → issuing CA → leaf, with the leaf's serial and revocation URLs chosen.

/// Root → issuing CA, with the scratch folder for the files `openssl ocsp` and pinscope read.
struct Pki {
    root: Ca,
    ca: Ca,
    scratch: Scratch,
}

/// The organisation of every lab name here.
const ORG: &str = "pinscope revocation lab";

fn serial_hex(n: u8) -> String {
    lab_serial(n).iter().map(|b| format!("{b:02X}")).collect()
}

impl Pki {
    /// `ca_crl`: a CRL URL for the issuing CA's own certificate (its issuer, the root, is not sent).
    fn new(ca_crl: Option<String>) -> Self {
        let root = Ca::root_with("Revocation Lab Root", ORG, Vec::new());
        let mut params = ca_params("Revocation Lab Issuing CA", ORG, Vec::new());
        params.serial_number = Some(SerialNumber::from(lab_serial(0x7f)));
        if let Some(url) = ca_crl {
            params.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![url] }];
        }
        let ca = root.sign(params);
        Self {
            root,
            ca,
            scratch: Scratch::new(),
        }
    }

    /// The server chain (leaf + issuing CA) for HOST.
    fn leaf(&self, n: u8, ocsp: &[String], crl: &[String]) -> Leaf {
        self.ca.revocable_leaf(HOST, n, ocsp, crl)
    }

    /// A delegated OCSP responder certificate signed by `issuer`; `ocsp_eku` adds OCSP signing.
    fn responder(&self, cn: &str, issuer: &Ca, ocsp_eku: bool) -> Ca {
        let mut p = CertificateParams::default();
        p.distinguished_name = name(cn, ORG);
        if ocsp_eku {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
        }
        validity(&mut p);
        issuer.sign(p)
    }

    /// A self-signed certificate carrying the issuing CA's exact name, with another key.
    fn impostor(&self) -> Ca {
        Ca::root_with("Revocation Lab Issuing CA", ORG, Vec::new())
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        self.scratch.file(name, contents)
    }

    fn roots_flag(&self) -> String {
        self.scratch.roots("public", &self.root.pem)
    }
}

// ---------------------------------------------------------------------------------------------
// `openssl ocsp` as a responder.

/// A running `openssl ocsp`, killed when dropped.
struct Ocsp {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Ocsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line of openssl's index.txt.
enum Entry {
    Valid(u8),
    Revoked(u8, &'static str),
}

impl Ocsp {
    /// Starts a responder for certificates issued by `pki.ca`, signing with `signer`.
    fn start(pki: &Pki, tag: &str, entries: &[Entry], signer: &Ca, extra: &[&str]) -> Self {
        let expiry = "351231235959Z";
        let index: String = entries
            .iter()
            .map(|e| match e {
                Entry::Valid(n) => {
                    format!("V\t{expiry}\t\t{}\tunknown\t/CN={HOST}\n", serial_hex(*n))
                }
                Entry::Revoked(n, reason) => format!(
                    "R\t{expiry}\t250101000000Z,{reason}\t{}\tunknown\t/CN={HOST}\n",
                    serial_hex(*n)
                ),
            })
            .collect();
        let index = pki.file(&format!("{tag}-index.txt"), &index);
        let ca = pki.file(&format!("{tag}-ca.pem"), &pki.ca.pem);
        let rsigner = pki.file(&format!("{tag}-rsigner.pem"), &signer.pem);
        let rkey = pki.file(&format!("{tag}-rkey.pem"), signer.key_pem());
        let log = pki.scratch.path(&format!("{tag}-ocsp.log"));
        // `openssl ocsp -port` takes a number only (3.0 cannot bind an address), so a free port is
        // picked and retried if another process takes it first.
        for _ in 0..10 {
            let port = free_port();
            let logfile = std::fs::File::create(&log).unwrap();
            let child = Command::new("openssl")
                .args(["ocsp", "-index"])
                .arg(&index)
                .args(["-port", &port.to_string(), "-rsigner"])
                .arg(&rsigner)
                .arg("-rkey")
                .arg(&rkey)
                .arg("-CA")
                .arg(&ca)
                .args(["-ndays", "1", "-ignore_err"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(logfile.try_clone().unwrap())
                .stderr(logfile)
                .spawn()
                .expect("openssl is installed");
            let mut ocsp = Self {
                child,
                port,
                log: log.clone(),
            };
            if ocsp.wait_ready() {
                return ocsp;
            }
        }
        panic!("openssl ocsp did not start; see {}", log.display());
    }

    /// Ready once it says it listens. (Probing with a bare connection would hang it: openssl 3.0's
    /// responder stops answering after a connection that sends nothing.)
    fn wait_ready(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if self.log().contains("waiting for OCSP client connections") {
                std::thread::sleep(Duration::from_millis(50));
                return self.child.try_wait().unwrap().is_none();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Running pinscope and reading its answer.

/// Audits HOST served with `leaf`; returns the JSON target and the table output.
fn audit(pki: &Pki, leaf: &Leaf, extra: &[String]) -> (Value, String) {
    let port = tls_server(leaf);
    let target = format!("{HOST}:{port}");
    let mut args = vec![
        "audit".to_owned(),
        target.clone(),
        resolve(HOST, port),
        pki.roots_flag(),
    ];
    if !extra.iter().any(|a| a.starts_with("--timeout")) {
        args.push("--timeout=5".to_owned());
    }
    args.extend_from_slice(extra);
    let mut json_args = args.clone();
    json_args.push("--format=json".into());
    let run = pinscope(&json_args);
    let json = run.json();
    let t = json["targets"][0].clone();
    let table = pinscope(&args).stdout;
    let findings: Vec<String> = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"].as_str().is_some_and(|c| c.contains("revo")))
        .map(|f| format!("{} {}: {}", f["severity"], f["code"], f["message"]))
        .collect();
    eprintln!(
        "--- table\n{table}--- findings\n{}\n--- revocation\n{:#}",
        findings.join("\n"),
        t["revocation"]
    );
    (t, table)
}

fn entries(t: &Value) -> &Vec<Value> {
    t["revocation"].as_array().expect("revocation array")
}

fn entry<'a>(t: &'a Value, url: &str) -> &'a Value {
    entries(t)
        .iter()
        .find(|e| e["url"] == url)
        .unwrap_or_else(|| panic!("no revocation entry for {url}: {:#}", t["revocation"]))
}

fn detail(e: &Value) -> &str {
    e["detail"].as_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The cases.

#[test]
fn ocsp_good_from_a_delegated_responder_through_resolve() {
    let pki = Pki::new(None);
    let responder = pki.responder("Revocation Lab OCSP Responder", &pki.ca, true);
    let ocsp = Ocsp::start(&pki, "good", &[Entry::Valid(1)], &responder, &[]);
    // A name for the responder, pointed at 127.0.0.1 with --resolve like the TLS host.
    let url = format!("http://ocsp.pinscope.test:{}/status", ocsp.port);
    let leaf = pki.leaf(1, std::slice::from_ref(&url), &[]);
    let (t, _) = audit(&pki, &leaf, &[resolve("ocsp.pinscope.test", ocsp.port)]);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    let e = entry(&t, &url);
    assert_eq!(e["kind"], "ocsp");
    assert_eq!(e["certificate"], HOST);
    assert_eq!(e["status"], "good", "{e:#}\n{}", ocsp.log());
    assert!(detail(e).contains("Revocation Lab OCSP Responder"), "{e:#}");
    assert!(e["next_update"].is_string(), "{e:#}");
    assert_eq!(entries(&t).len(), 1, "{t:#}");
    assert_eq!(finding(&t, "revocation_good")["severity"], "info");
}

#[test]
fn ocsp_revoked_makes_the_target_untrusted() {
    let pki = Pki::new(None);
    let ocsp = Ocsp::start(
        &pki,
        "revoked",
        &[Entry::Revoked(2, "keyCompromise")],
        &pki.ca,
        &[],
    );
    let leaf = pki.leaf(2, &[ocsp.url()], &[]);
    let (t, table) = audit(&pki, &leaf, &[]);
    assert_eq!(t["verdict"], "untrusted", "{t:#}");
    let e = entry(&t, &ocsp.url());
    assert_eq!(e["status"], "revoked", "{e:#}\n{}", ocsp.log());
    assert_eq!(e["reason"], "keyCompromise");
    assert_eq!(e["revoked_at"], "2025-01-01T00:00:00Z");
    assert!(
        detail(e).contains("the issuer 'Revocation Lab Issuing CA'"),
        "{e:#}"
    );
    let f = finding(&t, "revoked");
    assert_eq!(f["severity"], "error");
    assert!(
        f["message"].as_str().unwrap().contains("keyCompromise"),
        "{f:#}"
    );
    assert!(
        t["explanation"].as_str().unwrap().contains("is revoked"),
        "{t:#}"
    );
    assert!(
        table.contains("untrusted") && table.contains("revoked"),
        "{table}"
    );
}

#[test]
fn crl_revoked_and_an_unpresented_issuer_is_not_checked() {
    let revoked_at = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let root_crl = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let (a, b) = (Arc::clone(&revoked_at), Arc::clone(&root_crl));
    let server = HttpServer::answering(move |head| match request_path(head) {
        "/issuing.crl" => http_response("200 OK", "application/pkix-crl", &a.lock().unwrap()),
        "/root.crl" => http_response("200 OK", "application/pkix-crl", &b.lock().unwrap()),
        _ => http_response("404 Not Found", "text/plain", b"no"),
    });
    let pki = Pki::new(Some(server.url("/root.crl")));
    *revoked_at.lock().unwrap() = pki.ca.crl(&[9, 3], false);
    *root_crl.lock().unwrap() = pki.root.crl(&[], false);
    let leaf = pki.leaf(3, &[], &[server.url("/issuing.crl")]);
    let (t, _) = audit(&pki, &leaf, &[]);
    assert_eq!(t["verdict"], "untrusted", "{t:#}");
    let e = entry(&t, &server.url("/issuing.crl"));
    assert_eq!(e["kind"], "crl");
    assert_eq!(e["status"], "revoked", "{e:#}");
    assert_eq!(e["reason"], "keyCompromise");
    assert!(detail(e).contains("serial 1a2b3c4d03 listed"), "{e:#}");
    // The issuing CA's own CRL is reachable, but the root that signs it was not presented.
    let e = entry(&t, &server.url("/root.crl"));
    assert_eq!(e["certificate"], "Revocation Lab Issuing CA");
    assert_eq!(e["status"], "not_checked", "{e:#}");
    assert!(
        detail(e).contains("'Revocation Lab Root' was not presented"),
        "{e:#}"
    );
    assert_eq!(finding(&t, "revoked")["severity"], "error");
    // The CRL and the root's CRL are each fetched once.
    assert_eq!(server.hits(), 2 * 2, "two runs, two CRLs each");
}

#[test]
fn ocsp_unknown_is_not_good() {
    let pki = Pki::new(None);
    let responder = pki.responder("Revocation Lab OCSP Responder", &pki.ca, true);
    let ocsp = Ocsp::start(&pki, "unknown", &[Entry::Valid(1)], &responder, &[]);
    let leaf = pki.leaf(4, &[ocsp.url()], &[]);
    let (t, _) = audit(&pki, &leaf, &[]);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    let e = entry(&t, &ocsp.url());
    assert_eq!(e["status"], "unknown", "{e:#}\n{}", ocsp.log());
    assert!(detail(e).contains("does not know"), "{e:#}");
    assert_eq!(finding(&t, "revocation_unknown")["severity"], "warning");
    assert!(!has_code(&t, "revocation_good"));
}

#[test]
fn refused_responder_is_unreachable_and_says_what_it_means() {
    let pki = Pki::new(None);
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let leaf = pki.leaf(5, std::slice::from_ref(&url), &[]);
    let (t, _) = audit(&pki, &leaf, &[]);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    let e = entry(&t, &url);
    assert_eq!(e["status"], "unreachable", "{e:#}");
    assert!(detail(e).contains("refused"), "{e:#}");
    let f = finding(&t, "revocation_unreachable");
    assert_eq!(f["severity"], "warning");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("devices that check revocation for this chain cannot")
            && msg.contains("Symantec"),
        "{msg}"
    );
}

#[test]
fn silent_responder_times_out_without_stalling_the_run() {
    let pki = Pki::new(None);
    let url = format!("http://127.0.0.1:{}/", common::silent_listener());
    let leaf = pki.leaf(6, std::slice::from_ref(&url), &[]);
    let started = Instant::now();
    let (t, _) = audit(&pki, &leaf, &["--timeout=2".to_owned()]);
    // Two runs (JSON and table), each bounded by the 2 s fetch deadline plus the handshake.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let e = entry(&t, &url);
    assert_eq!(e["status"], "unreachable", "{e:#}");
    assert!(detail(e).contains("did not answer in time"), "{e:#}");
}

#[test]
fn html_block_page_is_invalid() {
    let pki = Pki::new(None);
    let server = HttpServer::answering(|_| {
        http_response(
            "200 OK",
            "text/html; charset=utf-8",
            b"<html><head><title>Blocked by Corp Web Filter</title></head><body>Access denied</body></html>",
        )
    });
    let url = server.url("/ocsp");
    let leaf = pki.leaf(7, std::slice::from_ref(&url), &[]);
    let (t, _) = audit(&pki, &leaf, &[]);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    let e = entry(&t, &url);
    assert_eq!(e["status"], "invalid", "{e:#}");
    assert!(
        detail(e).contains("block page") && detail(e).contains("Blocked by Corp Web Filter"),
        "{e:#}"
    );
    let f = finding(&t, "revocation_invalid");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("devices that check revocation"),
        "{f:#}"
    );
}

#[test]
fn oversized_crl_is_reported_as_too_large() {
    let pki = Pki::new(None);
    // Announces 20 MiB (the cap is 10 MiB) and starts sending it.
    let server = HttpServer::answering(|_| {
        let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: 20971520\r\n\r\n".to_vec();
        out.extend(std::iter::repeat_n(0u8, 64 * 1024));
        out
    });
    let url = server.url("/huge.crl");
    let leaf = pki.leaf(8, &[], std::slice::from_ref(&url));
    let (t, _) = audit(&pki, &leaf, &[]);
    let e = entry(&t, &url);
    assert_eq!(e["status"], "invalid", "{e:#}");
    assert!(
        detail(e).contains("too large") && detail(e).contains("Content-Length 20971520"),
        "{e:#}"
    );
}

#[test]
fn redirect_loop_stops_at_the_cap() {
    let pki = Pki::new(None);
    let server = HttpServer::answering(|head| {
        let next = if request_path(head) == "/a" {
            "/b"
        } else {
            "/a"
        };
        format!("HTTP/1.1 302 Found\r\nLocation: {next}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .into_bytes()
    });
    let url = server.url("/a");
    let leaf = pki.leaf(9, &[], std::slice::from_ref(&url));
    let (t, _) = audit(&pki, &leaf, &[]);
    let e = entry(&t, &url);
    assert_eq!(e["status"], "invalid", "{e:#}");
    assert!(
        detail(e).contains("3 redirect(s) followed, the cap"),
        "{e:#}"
    );
    // One run: the first request and three redirects; the JSON and table runs make two.
    assert_eq!(server.hits(), 2 * 4);
}

#[test]
fn ocsp_signed_by_the_wrong_key_is_invalid() {
    let pki = Pki::new(None);
    // Carries the issuing CA's name but not its key; no certificate in the response.
    let impostor = pki.impostor();
    let forged = Ocsp::start(
        &pki,
        "forged",
        &[Entry::Valid(10)],
        &impostor,
        &["-resp_no_certs"],
    );
    // A responder certificate with the OCSP-signing EKU, from another CA that carries the same
    // name as the real issuing CA.
    let other = Pki::new(None);
    let rogue = other.responder("Rogue OCSP Responder", &other.ca, true);
    let rogue_ocsp = Ocsp::start(&pki, "rogue", &[Entry::Valid(10)], &rogue, &[]);
    // Signed by the issuing CA, but without the OCSP-signing EKU.
    let unauthorised = pki.responder("Unauthorised Responder", &pki.ca, false);
    let no_eku = Ocsp::start(&pki, "noeku", &[Entry::Valid(10)], &unauthorised, &[]);
    let leaf = pki.leaf(10, &[forged.url(), rogue_ocsp.url(), no_eku.url()], &[]);
    let (t, _) = audit(&pki, &leaf, &[]);
    assert_eq!(t["verdict"], "pass", "{t:#}");
    let e = entry(&t, &forged.url());
    assert_eq!(e["status"], "invalid", "{e:#}\n{}", forged.log());
    assert!(detail(e).contains("signature does not verify"), "{e:#}");
    let e = entry(&t, &rogue_ocsp.url());
    assert_eq!(e["status"], "invalid", "{e:#}");
    assert!(detail(e).contains("is not signed by its key"), "{e:#}");
    let e = entry(&t, &no_eku.url());
    assert_eq!(e["status"], "invalid", "{e:#}");
    assert!(detail(e).contains("OCSP signing"), "{e:#}");
    assert!(!has_code(&t, "revocation_good"));
}

#[test]
fn shared_urls_are_fetched_once_and_unfetchable_ones_are_not_checked() {
    let pki = Pki::new(None);
    let crl = pki.ca.crl(&[], false);
    let server =
        HttpServer::answering(move |_| http_response("200 OK", "application/pkix-crl", &crl));
    let url = server.url("/shared.crl");
    let https = "https://crl.pinscope.test/ca.crl".to_owned();
    let leaf = pki.leaf(11, &[], &[url.clone(), https.clone()]);
    // Two targets with the same chain share one CRL fetch.
    let (p1, p2) = (common::tls_server(&leaf), common::tls_server(&leaf));
    let run = pinscope([
        "audit".to_owned(),
        format!("{HOST}:{p1}"),
        format!("{HOST}:{p2}"),
        resolve(HOST, p1),
        resolve(HOST, p2),
        pki.roots_flag(),
        "--format=json".to_owned(),
    ]);
    let json = run.json();
    for t in json["targets"].as_array().unwrap() {
        assert_eq!(t["verdict"], "pass", "{t:#}");
        assert_eq!(entry(t, &url)["status"], "good", "{t:#}");
        let e = entry(t, &https);
        assert_eq!(e["status"], "not_checked", "{e:#}");
        assert!(detail(e).contains("plain HTTP only"), "{e:#}");
    }
    eprintln!("{:#}", json["targets"][0]["revocation"]);
    assert_eq!(server.hits(), 1);

    // --no-revocation fetches nothing and reports nothing.
    let run = pinscope([
        "audit".to_owned(),
        format!("{HOST}:{p1}"),
        resolve(HOST, p1),
        pki.roots_flag(),
        "--no-revocation".to_owned(),
        "--format=json".to_owned(),
    ]);
    let json = run.json();
    assert_eq!(json["targets"][0]["revocation"], serde_json::json!([]));
    assert_eq!(server.hits(), 1);
}
