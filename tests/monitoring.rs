//! The monitoring chain end to end, with real components: `pinscope serve` audits two loopback lab
//! servers for catalog-listed Apple hosts (one genuine, one forged by an inspection CA that only
//! the native store trusts), the Debian `prometheus` package's server scrapes it and evaluates the
//! shipped alert rules, and the test reads what an operator would through Prometheus' HTTP API: the
//! `pinscope_…` series, the verdicts, and `PinscopeInterceptionDetected` firing. Then the forged
//! server is given a genuine certificate and the alert resolves.
//!
//! Without prometheus the test skips, unless `PINSCOPE_REQUIRE_PROMETHEUS=1` (as `.ci/run` sets)
//! makes that a failure. Its only waits are polls with generous deadlines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// How long any one state may take to show up in Prometheus: far beyond the few seconds it needs
/// (a one-second audit interval, one-second scrapes and evaluations), for a loaded CI machine.
const DEADLINE: Duration = Duration::from_secs(120);

/// A child process killed (and reaped) when the test ends, however it ends; its standard error
/// goes to a file quoted when the test fails.
struct Guarded {
    what: &'static str,
    child: Child,
    stderr: PathBuf,
}

impl Guarded {
    fn spawn(what: &'static str, cmd: &mut std::process::Command, stderr: PathBuf) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        Self {
            what,
            child,
            stderr,
        }
    }

    /// The last lines of its standard error.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!("--- {} stderr (last 30 lines):\n{tail}", self.what)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` from 127.0.0.1:`port` (HTTP/1.0, so the reply is neither chunked nor kept alive):
/// the status and the body.
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut tcp = TcpStream::connect(loopback(port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP reply: {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status: {head:?}")))?;
    Ok((status, body.to_owned()))
}

/// Prometheus' HTTP API on one port.
struct Api {
    port: u16,
}

impl Api {
    /// `GET /api/v1/PATH`'s `data`, or why there is none.
    fn get(&self, path: &str) -> Result<Value, String> {
        let (status, body) = http_get(self.port, &format!("/api/v1/{path}"))
            .map_err(|e| format!("GET /api/v1/{path}: {e}"))?;
        let json: Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET /api/v1/{path}: {status}, not JSON ({e}): {body}"))?;
        if status != 200 || json["status"] != "success" {
            return Err(format!("GET /api/v1/{path}: {status} {body}"));
        }
        Ok(json["data"].clone())
    }

    /// An instant query's vector: each series' labels and value.
    fn query(&self, promql: &str) -> Result<Vec<(Value, f64)>, String> {
        let q = percent_encoding::utf8_percent_encode(promql, percent_encoding::NON_ALPHANUMERIC);
        let data = self.get(&format!("query?query={q}"))?;
        let result = data["result"]
            .as_array()
            .ok_or_else(|| format!("{promql}: no vector in {data}"))?;
        Ok(result
            .iter()
            .map(|s| {
                let value = s["value"][1].as_str().and_then(|v| v.parse().ok());
                (s["metric"].clone(), value.unwrap_or(f64::NAN))
            })
            .collect())
    }

    /// The value of the one series `promql` selects, or why it is not exactly one.
    fn value(&self, promql: &str) -> Result<f64, String> {
        match self.query(promql)?.as_slice() {
            [(_, v)] => Ok(*v),
            other => Err(format!("{promql}: {} series: {other:?}", other.len())),
        }
    }

    /// The active (pending or firing) alerts named `name`: each one's labels and state.
    fn alerts(&self, name: &str) -> Result<Vec<(Value, String)>, String> {
        let data = self.get("alerts")?;
        Ok(data["alerts"]
            .as_array()
            .ok_or_else(|| format!("no alerts array in {data}"))?
            .iter()
            .filter(|a| a["labels"]["alertname"] == name)
            .map(|a| {
                (
                    a["labels"].clone(),
                    a["state"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect())
    }
}

/// Calls `check` until it gives a value, failing after [`DEADLINE`] with its last complaint and
/// the processes' logs; prints how long it took.
fn poll<T>(what: &str, logs: &[&Guarded], mut check: impl FnMut() -> Result<T, String>) -> T {
    let started = Instant::now();
    loop {
        match check() {
            Ok(v) => {
                eprintln!("{what}: after {:.1} s", started.elapsed().as_secs_f64());
                return v;
            }
            Err(last) => {
                if started.elapsed() > DEADLINE {
                    let logs: Vec<String> = logs.iter().map(|g| g.log_tail()).collect();
                    panic!(
                        "{what}: not seen within {DEADLINE:?}; last: {last}\n{}",
                        logs.join("\n")
                    );
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `Ok(())` when `ok`, else the complaint.
fn want(ok: bool, complaint: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(complaint()) }
}

#[test]
fn prometheus_sees_the_interception_alert_fire_and_resolve() {
    let Some(prometheus) = require_tool("/usr/bin/prometheus", "PINSCOPE_REQUIRE_PROMETHEUS")
    else {
        return;
    };
    let lab = Lab::new();
    // Two hosts the built-in catalog lists: the genuine one chains to the lab's public root, the
    // forged one to the inspection root, which only the native store trusts.
    let (genuine, forged) = ("deviceenrollment.apple.com", "albert.apple.com");
    let genuine_port = tls_server(&lab.public.leaf(&[genuine], true));
    let (forged_port, forged_cert) = swappable_tls_server(&lab.inspection.leaf(&[forged], true));

    let public = lab.scratch.file("public.pem", &lab.public.pem);
    let native = lab.scratch.file("native.pem", &lab.inspection.pem);
    let config = lab.scratch.file(
        "pinscope.toml",
        &format!(
            "site = \"lab-site\"\n[schedule]\ninterval = 1\n[audit]\n\
             targets = [\"{genuine}:{genuine_port}\", \"{forged}:{forged_port}\"]\n\
             resolve = [\"{genuine}:{genuine_port}:127.0.0.1\", \"{forged}:{forged_port}:127.0.0.1\"]\n\
             public_roots = [{:?}]\nnative_roots = [{:?}]\nrevocation = false\ntimeout = 10\n",
            public.display().to_string(),
            native.display().to_string()
        ),
    );
    let exporter_port = free_port();
    let mut exporter = Guarded::spawn(
        "pinscope serve",
        pinscope_command()
            .arg("serve")
            .arg(format!("--listen=127.0.0.1:{exporter_port}"))
            .arg(format!("--config={}", config.display())),
        lab.scratch.path("serve.stderr"),
    );
    wait_for_port(exporter_port, &mut exporter.child, "pinscope serve");

    // The shipped rules, unchanged: PinscopeInterceptionDetected has no `for:`, so it fires at the
    // first evaluation that sees the series, and the other alerts' long `for:` durations do not
    // matter here.
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/pinscope-rules.yml");
    let prometheus_config = lab.scratch.file(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {:?}\n\
             scrape_configs:\n  - job_name: pinscope\n    honor_labels: true\n    static_configs:\n\
             \x20     - targets: [\"127.0.0.1:{exporter_port}\"]\n",
            rules.display().to_string()
        ),
    );
    // The TSDB lives in the scratch folder, removed when the test ends.
    let tsdb = lab.scratch.path("tsdb");
    let prometheus_port = free_port();
    let mut server = Guarded::spawn(
        "prometheus",
        std::process::Command::new(prometheus)
            .arg(format!("--config.file={}", prometheus_config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}")),
        lab.scratch.path("prometheus.stderr"),
    );
    let started = Instant::now();
    wait_for_port(prometheus_port, &mut server.child, "prometheus");
    let logs = [&exporter, &server];
    let api = Api {
        port: prometheus_port,
    };
    poll("prometheus ready", &logs, || {
        let (status, body) = http_get(prometheus_port, "/-/ready").map_err(|e| e.to_string())?;
        want(status == 200, || format!("/-/ready: {status} {body}"))
    });

    // The rules loaded as they are shipped.
    let groups = api.get("rules").unwrap();
    let loaded: Vec<&str> = groups["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(loaded.contains(&"PinscopeInterceptionDetected"), "{groups}");

    let intercepted = |host: &str| format!("pinscope_target_intercepted{{host=\"{host}\"}}");
    poll(
        "forged intercepted = 1, genuine = 0 in Prometheus",
        &logs,
        || {
            let f = api.value(&intercepted(forged))?;
            let g = api.value(&intercepted(genuine))?;
            want(f == 1.0 && g == 0.0, || format!("forged {f}, genuine {g}"))
        },
    );
    eprintln!(
        "  (since prometheus started: {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    // The series carry the target's and the site's labels.
    let (labels, _) = api.query(&intercepted(forged)).unwrap().remove(0);
    for (name, value) in [
        ("site", "lab-site"),
        ("port", &forged_port.to_string()),
        ("transport", "tcp"),
        ("job", "pinscope"),
    ] {
        assert_eq!(labels[name], value, "{labels}");
    }
    assert!(
        labels.get("section").is_none_or(Value::is_string),
        "{labels}"
    );

    // The verdict state set: ten states per target, exactly one of them 1, the right one.
    for (host, verdict) in [(genuine, "pass"), (forged, "intercepted")] {
        let states = api
            .query(&format!("pinscope_target_verdict{{host=\"{host}\"}}"))
            .unwrap();
        assert_eq!(states.len(), 10, "{host}: {states:?}");
        let set: Vec<&str> = states
            .iter()
            .filter(|(_, v)| *v == 1.0)
            .filter_map(|(l, _)| l["verdict"].as_str())
            .collect();
        assert_eq!(set, [verdict], "{host}: {states:?}");
        assert!(
            states.iter().all(|(_, v)| *v == 0.0 || *v == 1.0),
            "{states:?}"
        );
        eprintln!("{host}: pinscope_target_verdict{{verdict=\"{verdict}\"}} = 1, 9 others 0");
    }
    let info = api.query("pinscope_target_interception_info").unwrap();
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0].0["host"], forged, "{info:?}");
    eprintln!("interception_info: {}", info[0].0);
    let counts = api
        .query("pinscope_audit_targets{verdict=~\"pass|intercepted\"}")
        .unwrap();
    assert!(
        counts.len() == 2 && counts.iter().all(|(_, v)| *v == 1.0),
        "{counts:?}"
    );
    assert!(api.value("pinscope_audits_total").unwrap() >= 1.0);
    assert_eq!(api.value("up{job=\"pinscope\"}").unwrap(), 1.0);

    // The interception alert fires, for the forged host only.
    let firing = poll("PinscopeInterceptionDetected firing", &logs, || {
        let alerts = api.alerts("PinscopeInterceptionDetected")?;
        want(alerts.len() == 1 && alerts[0].1 == "firing", || {
            format!("{alerts:?}")
        })?;
        Ok(alerts[0].0.clone())
    });
    assert_eq!(firing["host"], forged, "{firing}");
    assert_eq!(firing["site"], "lab-site", "{firing}");
    assert_eq!(firing["severity"], "critical", "{firing}");
    eprintln!("firing alert labels: {firing}");
    eprintln!(
        "  (since prometheus started: {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    // The site fixes its policy: the same host:port now presents the genuine chain.
    let swapped = Instant::now();
    forged_cert.swap(&lab.public.leaf(&[forged], true));
    poll(
        "forged intercepted = 0 and verdict pass in Prometheus",
        &logs,
        || {
            let f = api.value(&intercepted(forged))?;
            let pass = api.value(&format!(
                "pinscope_target_verdict{{host=\"{forged}\",verdict=\"pass\"}}"
            ))?;
            want(f == 0.0 && pass == 1.0, || {
                format!("intercepted {f}, pass {pass}")
            })
        },
    );
    poll("PinscopeInterceptionDetected resolved", &logs, || {
        let alerts = api.alerts("PinscopeInterceptionDetected")?;
        want(alerts.is_empty(), || format!("still active: {alerts:?}"))
    });
    eprintln!(
        "  (since the swap: {:.1} s)",
        swapped.elapsed().as_secs_f64()
    );
    assert!(
        api.query("pinscope_target_interception_info")
            .unwrap()
            .is_empty()
    );
    assert_eq!(api.value(&intercepted(genuine)).unwrap(), 0.0);
    // Both processes are still up: the guards stop them now, as on any failure above.
    assert!(exporter.child.try_wait().unwrap().is_none());
    assert!(server.child.try_wait().unwrap().is_none());
}
