//! `pinscope serve`, the Prometheus exporter, through the binary on loopback: what a scraper, an
//! operator with `curl`, and a service manager's signals see. Audited targets are lab TLS servers
//! named through `--resolve`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;

const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A running `pinscope serve`, killed when the test ends; its standard error goes to a file.
struct Exporter {
    child: Child,
    port: u16,
    stderr: PathBuf,
    /// The CA the client trusts when the exporter serves HTTPS.
    tls: Option<rustls::pki_types::CertificateDer<'static>>,
    /// An `Authorization` header sent with every request.
    auth: Option<String>,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply: status, headers (lower-case names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Exporter {
    /// Starts `pinscope serve --listen 127.0.0.1:PORT ARGS` and waits until it listens.
    fn start(scratch: &Scratch, args: &[String]) -> Self {
        let port = free_port();
        let stderr = scratch.path("serve.stderr");
        let mut child = pinscope_command()
            .arg("serve")
            .arg(format!("--listen=127.0.0.1:{port}"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start pinscope serve");
        wait_for_port(port, &mut child, "pinscope serve");
        Self {
            child,
            port,
            stderr,
            tls: None,
            auth: None,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// GET `path` over HTTP (HTTPS when `tls` is set), one request per connection.
    fn try_get(&self, path: &str) -> std::io::Result<Reply> {
        let mut tcp = TcpStream::connect(loopback(self.port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if let Some(auth) = &self.auth {
            request.push_str(&format!("Authorization: {auth}\r\n"));
        }
        request.push_str("\r\n");
        let mut raw = Vec::new();
        match &self.tls {
            None => {
                tcp.write_all(request.as_bytes())?;
                tcp.read_to_end(&mut raw)?;
            }
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca.clone()).unwrap();
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                tls.write_all(request.as_bytes())?;
                // The server closes after its reply; a missing close_notify is not our concern.
                let _ = tls.read_to_end(&mut raw);
            }
        }
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP reply: {text:?}")))?;
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.strip_prefix("HTTP/1.1 "))
            .and_then(|l| l.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no status line: {head:?}")))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok(Reply {
            status,
            headers,
            body: body.to_owned(),
        })
    }

    fn get(&self, path: &str) -> Reply {
        self.try_get(path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\nstderr:\n{}", self.log()))
    }

    /// Polls `path` until it answers `status`, failing after 30 s.
    fn wait_for(&self, path: &str, status: u16) -> Reply {
        let started = Instant::now();
        loop {
            let reply = self.get(path);
            if reply.status == status {
                return reply;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{path} still answers {} after 30 s\nstderr:\n{}",
                reply.status,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until standard error holds `text`, failing after 30 s.
    fn wait_for_log(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no {text:?} on standard error after 30 s:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the exporter to exit, at most `limit`; its exit code and how long it took.
    fn exit_within(&mut self, limit: Duration) -> (i32, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), started.elapsed());
            }
            assert!(
                started.elapsed() < limit,
                "pinscope serve did not exit within {limit:?}\nstderr:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The lab's trust flags as config keys: its public root as the public store, the inspection
/// root as the native one.
fn trust_keys(lab: &Lab) -> String {
    let public = lab.scratch.file("public.pem", &lab.public.pem);
    let native = lab.scratch.file("native.pem", &lab.inspection.pem);
    format!(
        "public_roots = [{:?}]\nnative_roots = [{:?}]\n",
        public.display().to_string(),
        native.display().to_string()
    )
}

/// A metrics line for `host` of `metric`, e.g. `pinscope_target_intercepted{…host="x"…} 1`.
fn series<'a>(text: &'a str, metric: &str, host: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with(&format!("{metric}{{")) && l.contains(&format!("host=\"{host}\"")))
}

#[test]
fn ready_after_the_first_audit_which_results_json_and_the_report_show() {
    let lab = Lab::new();
    let host = "deviceenrollment.apple.com";
    let port = tls_server(&lab.public.leaf(&[host], true));
    // A silent target holds the first audit for its three-second timeout: long enough to see 503.
    let silent = silent_listener();
    let mut args = vec![
        format!("{host}:{port}"),
        resolve(host, port),
        format!("slow.test:{silent}"),
        resolve("slow.test", silent),
        "--timeout=3".into(),
        "--no-revocation".into(),
    ];
    args.extend(lab.trust());
    let exporter = Exporter::start(&lab.scratch, &args);
    assert_eq!(exporter.get("/-/healthy").status, 200);
    let not_yet = exporter.get("/-/ready");
    assert_eq!(not_yet.status, 503, "{}", not_yet.body);
    assert_eq!(exporter.get("/results.json").status, 503);
    assert_eq!(exporter.get("/").status, 503);
    exporter.wait_for("/-/ready", 200);
    let log = exporter.wait_for_log("audit done:");
    assert!(
        log.contains("audit done: 2 targets, 0 intercepted, took "),
        "{log}"
    );

    let results = exporter.get("/results.json");
    assert_eq!(results.status, 200);
    assert_eq!(results.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_str(&results.body).unwrap();
    assert_eq!(json["tool"], "pinscope");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(target_at(&json, host, port)["verdict"], "pass");
    assert_eq!(target_at(&json, "slow.test", silent)["verdict"], "timeout");
    assert_eq!(json["summary"]["total"], 2);

    let page = exporter.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains(host), "{}", page.body);
    assert!(
        page.header("content-security-policy")
            .is_some_and(|v| v.starts_with("default-src 'none'")),
        "{:?}",
        page.headers
    );

    let metrics = exporter.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.header("content-type"), Some(METRICS_TYPE));
    assert!(
        series(&metrics.body, "pinscope_target_intercepted", host)
            .is_some_and(|l| l.ends_with(" 0")),
        "{}",
        metrics.body
    );
    // Prometheus asks for gzip on every scrape: the page is compressed then, and reads back the
    // same.
    let mut tcp = TcpStream::connect(loopback(exporter.port)).unwrap();
    tcp.write_all(
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("vary: accept-encoding"), "{head}");
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&raw[split + 4..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert!(unzipped.starts_with("# HELP "), "{unzipped}");
    assert!(
        series(&unzipped, "pinscope_target_intercepted", host).is_some_and(|l| l.ends_with(" 0")),
        "{unzipped}"
    );
    assert!(raw.len() - split < unzipped.len(), "compressed is smaller");
    assert_eq!(exporter.get("/nowhere").status, 404);
    // One line per audit, none per request.
    assert_eq!(exporter.log().lines().count(), 2, "{}", exporter.log());
}

#[test]
fn probe_audits_an_allowed_target_and_refuses_any_other() {
    let lab = Lab::new();
    let host = "lab.test";
    let port = tls_server(&lab.inspection.leaf(&[host], true));
    let config = lab.scratch.file(
        "pinscope.toml",
        &format!(
            "site = \"lab\"\n[schedule]\ninterval = \"1h\"\n[audit]\ntargets = [\"{host}:{port}\"]\n\
             resolve = [\"{host}:{port}:127.0.0.1\"]\nrevocation = false\ntimeout = 5\n{}\
             [probe]\nallow = [\"{host}:{port}\"]\n",
            trust_keys(&lab)
        ),
    );
    let exporter = Exporter::start(&lab.scratch, &[format!("--config={}", config.display())]);

    let probed = exporter.get(&format!("/probe?target={host}:{port}"));
    assert_eq!(probed.status, 200, "{}", probed.body);
    assert_eq!(probed.header("content-type"), Some(METRICS_TYPE));
    let line = series(&probed.body, "pinscope_target_intercepted", host)
        .unwrap_or_else(|| panic!("{}", probed.body));
    assert!(
        line.ends_with(" 1") && line.contains("site=\"lab\""),
        "{line}"
    );

    // Outside the list: even a catalog host, since the config's list replaces the default.
    for refused in [
        "example.org:443",
        "gdmf.apple.com:443",
        &format!("{host}:{}", port ^ 1),
    ] {
        let r = exporter.get(&format!("/probe?target={refused}"));
        assert_eq!(r.status, 403, "{refused}: {}", r.body);
        assert!(r.body.contains("not allowed"), "{}", r.body);
        assert_eq!(r.body.lines().count(), 1, "{}", r.body);
    }
    assert_eq!(exporter.get("/probe").status, 400);
    assert_eq!(exporter.get("/probe?target=ftp://x.test").status, 400);
    // No credentials or probes in the log: only the start and the scheduled audit.
    assert!(!exporter.log().contains("/probe"), "{}", exporter.log());
}

#[test]
fn web_config_serves_https_with_basic_auth_only() {
    let scratch = Scratch::new();
    let ca = Ca::root("Exporter CA");
    let leaf = ca.leaf(&["localhost"], false);
    let key_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(leaf.key.secret_der())
    );
    scratch.file("exporter.pem", &leaf.pem);
    scratch.file("exporter.key", &key_pem);
    let hash = bcrypt::hash_with_salt("s3cret", 4, [7u8; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY);
    // Relative paths are the web config file's folder's, as the exporter toolkit takes them.
    let web = scratch.file(
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: exporter.pem\n  key_file: exporter.key\n\
             basic_auth_users:\n  prometheus: '{hash}'\n"
        ),
    );
    let lab = Lab::new();
    let target = "gdmf.apple.com";
    let port = tls_server(&lab.public.leaf(&[target], true));
    let mut args = vec![
        format!("--web.config.file={}", web.display()),
        format!("{target}:{port}"),
        resolve(target, port),
        "--no-revocation".into(),
    ];
    args.extend(lab.trust());
    let mut exporter = Exporter::start(&scratch, &args);

    // Plain HTTP on the HTTPS port gets no HTTP answer.
    assert!(exporter.try_get("/-/healthy").is_err());

    exporter.tls = Some(ca.cert_der.clone());
    let refused = exporter.get("/metrics");
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic")),
        "{:?}",
        refused.headers
    );
    let basic = |user_pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    };
    exporter.auth = Some(basic("prometheus:wrong"));
    assert_eq!(exporter.get("/metrics").status, 401);
    exporter.auth = Some(basic("prometheus:s3cret"));
    let metrics = exporter.get("/metrics");
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert_eq!(exporter.get("/metrics").status, 200);
    exporter.wait_for("/-/ready", 200);
}

#[test]
fn a_bad_web_config_is_an_input_error_naming_the_file() {
    let scratch = Scratch::new();
    for (name, text, says) in [
        (
            "unknown.yml",
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
            "client_ca_file",
        ),
        (
            "hash.yml",
            "basic_auth_users:\n  alice: not-a-hash\n",
            "not a bcrypt hash",
        ),
        (
            "missing.yml",
            "tls_server_config:\n  cert_file: nowhere.pem\n  key_file: nowhere.key\n",
            "nowhere.pem",
        ),
    ] {
        let web = scratch.file(name, text);
        let run = pinscope_within(
            [
                "serve".to_string(),
                format!("--web.config.file={}", web.display()),
                format!("--listen=127.0.0.1:{}", free_port()),
            ],
            Duration::from_secs(30),
        );
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains(&web.display().to_string()),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

#[test]
fn sighup_with_a_broken_config_keeps_the_old_one_and_a_good_one_is_used() {
    let lab = Lab::new();
    let first = tls_server(&lab.public.leaf(&["one.test"], true));
    let second = tls_server(&lab.inspection.leaf(&["two.test"], true));
    let config_for = |host: &str, port: u16| {
        format!(
            "[schedule]\ninterval = 1\n[audit]\ntargets = [\"{host}:{port}\"]\n\
             resolve = [\"{host}:{port}:127.0.0.1\"]\nrevocation = false\n{}",
            trust_keys(&lab)
        )
    };
    let path = lab
        .scratch
        .file("pinscope.toml", &config_for("one.test", first));
    let exporter = Exporter::start(&lab.scratch, &[format!("--config={}", path.display())]);
    exporter.wait_for("/-/ready", 200);

    std::fs::write(&path, "[schedule]\ninterval = 1\nbogus = true\n").unwrap();
    exporter.signal("HUP");
    let log = exporter.wait_for_log("config reload failed");
    assert!(
        log.contains(&format!(
            "config reload failed, keeping the previous config: {}:3: ",
            path.display()
        )),
        "{log}"
    );
    // Still serving, still auditing the old config's target.
    let metrics = exporter.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("pinscope_config_reload_failures_total"),
        "{}",
        metrics.body
    );
    let json: serde_json::Value =
        serde_json::from_str(&exporter.get("/results.json").body).unwrap();
    assert_eq!(json["targets"][0]["host"], "one.test");

    std::fs::write(&path, config_for("two.test", second)).unwrap();
    exporter.signal("HUP");
    exporter.wait_for_log("config reloaded");
    let started = Instant::now();
    loop {
        let json: serde_json::Value =
            serde_json::from_str(&exporter.get("/results.json").body).unwrap();
        if json["targets"][0]["host"] == "two.test" {
            assert_eq!(json["targets"][0]["verdict"], "intercepted");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the new config's target was never audited:\n{}",
            exporter.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_and_sigint_exit_promptly_with_zero_even_mid_audit() {
    for signal in ["TERM", "INT"] {
        let scratch = Scratch::new();
        let (silent, connections) = silent_listener_counted();
        let mut exporter = Exporter::start(
            &scratch,
            &[
                format!("held.test:{silent}"),
                resolve("held.test", silent),
                "--timeout=60".into(),
            ],
        );
        // The audit is in flight once the silent server has its connection.
        let started = Instant::now();
        while connections.load(Ordering::SeqCst) == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the audit never connected"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(exporter.get("/-/ready").status, 503);
        exporter.signal(signal);
        let (code, took) = exporter.exit_within(Duration::from_secs(2));
        assert_eq!(code, 0, "SIG{signal}: {}", exporter.log());
        eprintln!("SIG{signal}: exited after {took:?}");
        assert!(TcpStream::connect(loopback(exporter.port)).is_err());
    }
}

#[test]
fn requests_beyond_the_rate_limit_get_429_and_probes_sooner() {
    let lab = Lab::new();
    let host = "lab.test";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let config = lab.scratch.file(
        "pinscope.toml",
        &format!(
            "[audit]\ntargets = [\"{host}:{port}\"]\nresolve = [\"{host}:{port}:127.0.0.1\"]\n\
             revocation = false\n{}[probe]\nallow = [\"targets\"]\n",
            trust_keys(&lab)
        ),
    );
    let exporter = Exporter::start(&lab.scratch, &[format!("--config={}", config.display())]);
    // Probes: a burst of 10, then about one a second.
    let mut passed = 0;
    let refused = loop {
        let r = exporter.get(&format!("/probe?target={host}:{port}"));
        if r.status != 200 {
            break r;
        }
        passed += 1;
        assert!(passed < 30, "30 probes in a row and none limited");
    };
    assert!(
        passed >= 10,
        "only {passed} probes before a {}",
        refused.status
    );
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("too many probes"), "{}", refused.body);
    // Every request: a burst of 60, then 20 a second.
    let limited = (0..300)
        .map(|_| exporter.get("/-/healthy"))
        .find(|r| r.status == 429)
        .expect("300 requests in a row and none limited");
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert!(
        limited.body.contains("too many requests"),
        "{}",
        limited.body
    );
}

#[test]
fn check_config_accepts_a_good_file_and_names_the_line_of_a_bad_one() {
    let lab = Lab::new();
    let good = lab.scratch.file(
        "good.toml",
        &format!(
            "site = \"paris\"\n[labels]\nregion = \"emea\"\n[schedule]\ninterval = \"5m\"\njitter = \"30s\"\n\
             [audit]\nsections = [\"device-management\"]\ntimeout = 5\n{}[probe]\nallow = [\"catalog\", \"*.example.com:443\"]\n",
            trust_keys(&lab)
        ),
    );
    let run = pinscope(["serve", "--check-config", &good.display().to_string()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("ok"), "{}", run.stdout);

    for (name, text, line, says) in [
        (
            "unknown.toml",
            "site = \"x\"\n[audit]\ntimeout = 5\ncolour = \"red\"\n",
            4,
            "colour",
        ),
        (
            "interval.toml",
            "[schedule]\n\ninterval = \"5 fortnights\"\n",
            3,
            "not a duration",
        ),
        (
            "allow.toml",
            "[probe]\nallow = [\"catalog\", \"*:443\"]\n",
            2,
            "allow '*:443'",
        ),
        ("label.toml", "[labels]\nhost = \"x\"\n", 2, "reserved"),
    ] {
        let bad = lab.scratch.file(name, text);
        let run = pinscope(["serve", "--check-config", &bad.display().to_string()]);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{}:{line}: ", bad.display())),
            "{name}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(says), "{name}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    // What the plan checks (here, a section the catalog lacks) names the file too.
    let section = lab.scratch.file(
        "section.toml",
        "site = \"x\"\n[audit]\nsections = [\"nope\"]\n",
    );
    let run = pinscope(["serve", "--check-config", &section.display().to_string()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "{}:3: sections 'nope': no such section",
            section.display()
        )),
        "{}",
        run.stderr
    );
    // A file it names that cannot be read is named, with the config it came from.
    let roots = lab
        .scratch
        .file("roots.toml", "[audit]\npublic_roots = [\"absent.pem\"]\n");
    let run = pinscope(["serve", "--check-config", &roots.display().to_string()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("roots.toml") && run.stderr.contains("absent.pem"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_probe_of_a_target_at_a_time() {
    let lab = Lab::new();
    let host = "lab.test";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let (silent, connections) = silent_listener_counted();
    let config = lab.scratch.file(
        "pinscope.toml",
        &format!(
            "[audit]\ntargets = [\"{host}:{port}\"]\nresolve = [\"{host}:{port}:127.0.0.1\", \
             \"slow.test:{silent}:127.0.0.1\"]\nrevocation = false\ntimeout = 2\n{}\
             [probe]\nallow = [\"*.test:*\"]\n",
            trust_keys(&lab)
        ),
    );
    let exporter = Arc::new(Exporter::start(
        &lab.scratch,
        &[format!("--config={}", config.display())],
    ));
    let first = {
        let exporter = Arc::clone(&exporter);
        std::thread::spawn(move || exporter.get(&format!("/probe?target=slow.test:{silent}")))
    };
    let started = Instant::now();
    while connections.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the probe never connected"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = exporter.get(&format!("/probe?target=slow.test:{silent}"));
    assert_eq!(second.status, 429, "{}", second.body);
    assert!(second.body.contains("already in flight"), "{}", second.body);
    assert_eq!(second.header("retry-after"), Some("1"));
    // Another target is not held up by it.
    assert_eq!(
        exporter.get(&format!("/probe?target={host}:{port}")).status,
        200
    );
    let first = first.join().unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
}

#[test]
fn proxy_credentials_appear_in_no_page_and_no_log_line() {
    let lab = Lab::new();
    let host = "deviceenrollment.apple.com";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let proxy = tunnelling_proxy();
    let mut args = vec![
        format!("{host}:{port}"),
        format!("--proxy=http://scraper:hunter2secret@127.0.0.1:{proxy}"),
        "--no-revocation".into(),
    ];
    args.extend(lab.trust());
    let exporter = Exporter::start(&lab.scratch, &args);
    exporter.wait_for("/-/ready", 200);
    let json: serde_json::Value =
        serde_json::from_str(&exporter.get("/results.json").body).unwrap();
    assert_eq!(target_at(&json, host, port)["verdict"], "pass");
    for path in ["/metrics", "/results.json", "/", "/-/ready"] {
        let body = exporter.get(path).body;
        assert!(!body.contains("hunter2secret"), "{path}: {body}");
    }
    assert!(
        !exporter.log().contains("hunter2secret"),
        "{}",
        exporter.log()
    );
}

#[test]
fn the_example_config_is_valid_and_serve_has_a_manual_page() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/pinscope.toml");
    let run = pinscope(["serve", "--check-config", example]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let man = pinscope(["man", "serve"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(
        man.stdout.contains(".TH pinscope-serve 1"),
        "{}",
        man.stdout
    );
    assert!(man.stdout.contains("web.config.file"), "{}", man.stdout);
}

#[test]
fn listening_where_it_cannot_is_an_input_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let run = pinscope_within(
        ["serve".to_string(), format!("--listen=127.0.0.1:{port}")],
        Duration::from_secs(30),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("--listen 127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
    let run = pinscope(["serve", "--format=json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("/results.json"), "{}", run.stderr);
    let run = pinscope(["serve", "--listen=nowhere"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--listen 'nowhere'"), "{}", run.stderr);
}
