//! The run as a whole under stress: Ctrl-C and SIGTERM in the middle of a run, the whole-run
//! `--deadline`, and a low open-file limit. Each runs the real binary against loopback servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Names served by the lab TLS server (its certificate covers `*.pinscope.test`).
const DOMAIN: &str = "pinscope.test";

/// Silent targets (which would take `--timeout 30` each) and lab TLS targets that pass at once.
struct MixedLab {
    scratch: Scratch,
    root: Ca,
    tls_port: u16,
    silent_port: u16,
    /// Connections the silent server has accepted.
    silent_seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl MixedLab {
    fn new() -> Self {
        let root = Ca::root("Lab Public Root");
        let tls_port = tls_server(&root.leaf(&[&format!("*.{DOMAIN}")], true));
        let (silent_port, silent_seen) = silent_listener_counted();
        Self {
            scratch: Scratch::new(),
            root,
            tls_port,
            silent_port,
            silent_seen,
        }
    }

    /// `pass` passing targets and `silent` silent ones, through a targets file; the names resolve
    /// to 127.0.0.1 on both ports.
    fn args(&self, pass: usize, silent: usize, extra: &[&str]) -> Vec<String> {
        let mut lines: Vec<String> = (0..pass)
            .map(|i| format!("ok{i}.{DOMAIN}:{}", self.tls_port))
            .collect();
        lines.extend((0..silent).map(|i| format!("quiet{i}.{DOMAIN}:{}", self.silent_port)));
        let targets = self.scratch.file("targets.txt", &lines.join("\n"));
        let mut args = vec![
            "audit".to_string(),
            format!("--targets={}", targets.display()),
            format!("--resolve=*:{}:127.0.0.1", self.tls_port),
            format!("--resolve=*:{}:127.0.0.1", self.silent_port),
            self.scratch.roots("public", &self.root.pem),
            self.scratch.roots("native", &self.root.pem),
            "--no-revocation".into(),
            "--timeout=30".into(),
            "-q".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }
}

/// The binary, started with stdout and stderr going to files in `dir`.
fn start(args: &[String], dir: &Path) -> Child {
    pinscope_command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .expect("start pinscope")
}

/// Sends `signal` (e.g. "INT") with the `kill` command.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// Waits for the child at most `limit`; returns its exit code and how long it took.
fn wait(child: &mut Child, limit: Duration) -> (i32, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pinscope did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// Checks a JSON report of a run stopped with `pass` targets done and `silent` left unprobed.
fn check_stopped_json(json: &serde_json::Value, pass: usize, silent: usize, reason: &str) {
    let targets = json["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), pass + silent, "every target is reported");
    let passed = targets.iter().filter(|t| t["verdict"] == "pass").count();
    assert_eq!(
        passed, pass,
        "the targets finished before the stop are kept"
    );
    for t in targets.iter().filter(|t| t["verdict"] != "pass") {
        assert_eq!(t["verdict"], "skipped", "{t:#}");
        assert_eq!(t["findings"][0]["code"], "not_probed");
        assert_eq!(t["findings"][0]["message"], reason);
    }
    assert_eq!(json["summary"]["total"], pass + silent);
    assert_eq!(json["summary"]["skipped"], silent);
    assert_eq!(json["summary"]["not_probed"], silent);
}

/// Checks a JSON report of a run interrupted with `pass` targets done and `silent` connected to
/// the silent server and waiting for its ServerHello: each says so, with the address.
fn check_interrupted_json(json: &serde_json::Value, pass: usize, silent: usize, port: u16) {
    let targets = json["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), pass + silent, "every target is reported");
    let passed = targets.iter().filter(|t| t["verdict"] == "pass").count();
    assert_eq!(
        passed, pass,
        "the targets finished before the stop are kept"
    );
    for t in targets.iter().filter(|t| t["verdict"] != "pass") {
        check_interrupted_target(t, port);
    }
    assert_eq!(json["summary"]["total"], pass + silent);
    assert_eq!(json["summary"]["skipped"], silent);
    assert_eq!(json["summary"]["not_probed"], 0);
}

/// One target that was in its handshake with the silent server on `port` when the run was
/// interrupted.
fn check_interrupted_target(t: &serde_json::Value, port: u16) {
    let address = format!("127.0.0.1:{port}");
    assert_eq!(t["verdict"], "skipped", "{t:#}");
    assert_eq!(t["findings"][0]["code"], "interrupted", "{t:#}");
    // The JSON gives the address without the port (the target has it).
    assert_eq!(t["address_used"], "127.0.0.1", "{t:#}");
    assert_eq!(t["addresses"][0], "127.0.0.1", "{t:#}");
    assert_eq!(
        t["findings"][0]["message"],
        format!(
            "handshake: interrupted after connecting to {address}; ClientHello sent, nothing \
             received yet"
        ),
        "{t:#}"
    );
}

/// Starts a run of `pass` + `silent` targets, lets the passing ones finish, sends `sig`, and
/// checks the process ends with 130 within two seconds of it.
fn interrupt(lab: &MixedLab, dir: &Path, extra: &[&str], sig: &str) -> Duration {
    let mut child = start(&lab.args(5, 60, extra), dir);
    // Signal once the run is probing: every silent target connected (so the process is past its
    // start-up and has its signal handlers), and the passing ones had time to finish. A fixed
    // sleep raced the start-up on a loaded machine.
    let started = Instant::now();
    while lab.silent_seen.load(std::sync::atomic::Ordering::SeqCst) < 60 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never connected to the silent targets"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, sig);
    let (code, took) = wait(&mut child, Duration::from_secs(10));
    eprintln!("SIG{sig}: exited {code} {took:?} after the signal");
    assert_eq!(code, 130, "stderr: {}", read(dir, "stderr"));
    assert!(
        took < Duration::from_secs(2),
        "took {took:?} after SIG{sig}"
    );
    took
}

#[test]
fn sigint_keeps_what_finished_and_reports_the_rest_as_interrupted() {
    let lab = MixedLab::new();
    let dir = Scratch::new();
    interrupt(&lab, dir.dir.path(), &["--format=json"], "INT");
    let json: serde_json::Value = serde_json::from_str(&read(dir.dir.path(), "stdout"))
        .expect("stdout is valid JSON after SIGINT");
    check_interrupted_json(&json, 5, 60, lab.silent_port);
    assert_eq!(json["summary"]["interrupted"], true);
    assert_eq!(json["summary"]["deadline_passed"], false);
    assert_eq!(json["summary"]["exit_code"], 130);
}

#[test]
fn sigterm_with_output_file_writes_the_file_whole() {
    let lab = MixedLab::new();
    let dir = Scratch::new();
    let out: PathBuf = dir.path("report.json");
    let output = format!("--output={}", out.display());
    interrupt(&lab, dir.dir.path(), &["--format=json", &output], "TERM");
    assert_eq!(
        read(dir.dir.path(), "stdout"),
        "",
        "the report goes to the file"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("the report file exists"))
            .expect("the report file is valid JSON");
    check_interrupted_json(&json, 5, 60, lab.silent_port);
    assert_eq!(json["summary"]["interrupted"], true);
    let leftovers: Vec<_> = std::fs::read_dir(dir.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".pinscope-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn sigint_with_jsonl_ends_with_the_summary_line() {
    let lab = MixedLab::new();
    let dir = Scratch::new();
    interrupt(&lab, dir.dir.path(), &["--format=jsonl"], "INT");
    let stdout = read(dir.dir.path(), "stdout");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 65 + 1, "one line per target, then the summary");
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["not_probed"], 0, "every silent target had started");
    assert_eq!(summary["pass"], 5);
    for l in lines[..65].iter().filter(|l| l["verdict"] != "pass") {
        check_interrupted_target(l, lab.silent_port);
    }
    let mut hosts: Vec<&str> = lines[..65]
        .iter()
        .map(|l| l["host"].as_str().unwrap())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    assert_eq!(hosts.len(), 65, "every target exactly once");
}

#[test]
fn sigint_with_table_says_so_on_the_summary_line() {
    let lab = MixedLab::new();
    let dir = Scratch::new();
    interrupt(&lab, dir.dir.path(), &[], "INT");
    let stdout = read(dir.dir.path(), "stdout");
    assert!(
        stdout.contains("65 targets: 5 pass, 60 skipped (interrupted; 0 not probed)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "interrupted after connecting to 127.0.0.1:{}; ClientHello sent",
            lab.silent_port
        )),
        "{stdout}"
    );
}

/// Issue 13: Ctrl-C during a handshake reports that target as interrupted, with the address it
/// had connected to, and the targets not yet started as not probed.
#[test]
fn sigint_in_a_handshake_reports_that_target_as_interrupted_and_the_rest_as_not_probed() {
    let lab = MixedLab::new();
    let dir = Scratch::new();
    // One probe at a time: the first silent target is in its handshake, the other two wait.
    let mut child = start(
        &lab.args(0, 3, &["--format=json", "--concurrency=1"]),
        dir.dir.path(),
    );
    let started = Instant::now();
    while lab.silent_seen.load(std::sync::atomic::Ordering::SeqCst) < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never connected"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The ClientHello follows the connection at once; give a loaded machine a moment.
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "INT");
    let (code, _) = wait(&mut child, Duration::from_secs(10));
    assert_eq!(code, 130, "stderr: {}", read(dir.dir.path(), "stderr"));
    let json: serde_json::Value = serde_json::from_str(&read(dir.dir.path(), "stdout")).unwrap();
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3);
    check_interrupted_target(&targets[0], lab.silent_port);
    assert_eq!(targets[0]["host"], format!("quiet0.{DOMAIN}"));
    for t in &targets[1..] {
        assert_eq!(t["verdict"], "skipped", "{t:#}");
        assert_eq!(t["findings"][0]["code"], "not_probed", "{t:#}");
        assert_eq!(
            t["findings"][0]["message"],
            "not probed: the run was interrupted"
        );
        assert_eq!(t["address_used"], serde_json::Value::Null, "{t:#}");
    }
    assert_eq!(json["summary"]["not_probed"], 2);
    assert_eq!(json["summary"]["interrupted"], true);
    assert_eq!(
        lab.silent_seen.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the targets reported as not probed never connected"
    );
}

#[test]
fn the_run_deadline_stops_the_run_and_exits_by_the_verdicts() {
    let lab = MixedLab::new();
    let dir = Scratch::new();
    let started = Instant::now();
    let mut child = start(
        &lab.args(5, 60, &["--format=json", "--deadline=1.5"]),
        dir.dir.path(),
    );
    let (code, took) = wait(&mut child, Duration::from_secs(10));
    eprintln!("--deadline 1.5: exited {code} after {took:?}");
    assert!(started.elapsed() < Duration::from_millis(3000), "{took:?}");
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    // Nothing failed, but targets were left unprobed: 3, not 0 and not 130.
    assert_eq!(code, 3, "stderr: {}", read(dir.dir.path(), "stderr"));
    let json: serde_json::Value = serde_json::from_str(&read(dir.dir.path(), "stdout")).unwrap();
    check_stopped_json(&json, 5, 60, "not probed: the run deadline passed");
    assert_eq!(json["summary"]["deadline_passed"], true);
    assert_eq!(json["summary"]["interrupted"], false);
    assert_eq!(json["summary"]["exit_code"], 3);
}

#[test]
fn a_deadline_that_does_not_pass_changes_nothing() {
    let lab = MixedLab::new();
    let run = pinscope(lab.args(5, 0, &["--format=json", "--deadline=60"]));
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let json = run.json();
    assert_eq!(json["summary"]["pass"], 5);
    assert_eq!(json["summary"]["deadline_passed"], false);
    assert_eq!(json["summary"]["not_probed"], 0);
}

#[test]
fn a_bad_deadline_is_a_usage_error() {
    for bad in ["0", "-1", "nan", "1e9"] {
        let run = pinscope(["audit", "x.pinscope.test", "--deadline", bad]);
        assert_eq!(run.code, 2, "--deadline {bad}: {}", run.stderr);
        assert!(run.stderr.starts_with("pinscope: error:"), "{}", run.stderr);
    }
}

/// Runs `pinscope` under an open-file limit of `limit` (hard and soft), with prlimit or the shell.
fn under_nofile_limit(limit: u32, args: &[String]) -> Run {
    let started = Instant::now();
    let bin = env!("CARGO_BIN_EXE_pinscope");
    let prlimit = Command::new("prlimit").arg("--version").output().is_ok();
    let out = if prlimit {
        Command::new("prlimit")
            .arg(format!("--nofile={limit}:{limit}"))
            .arg(bin)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
    } else {
        Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
            .arg(bin)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
    }
    .expect("run pinscope under a limit");
    Run::from_output(out, started)
}

#[test]
fn a_low_open_file_limit_caps_concurrency_instead_of_failing_targets() {
    let lab = MixedLab::new();
    let mut args = lab.args(300, 0, &["--format=json", "--concurrency=1000"]);
    args.retain(|a| a != "--timeout=30");
    args.push("--timeout=10".into());
    let run = under_nofile_limit(128, &args);
    eprintln!("stderr: {}", run.stderr);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        run.stderr.contains("instead of 1000") && run.stderr.contains("limit is 128"),
        "the cap is announced: {}",
        run.stderr
    );
    assert_eq!(run.stderr.matches("instead of 1000").count(), 1, "once");
    assert!(!run.stdout.contains("Too many open files"));
    let json = run.json();
    assert_eq!(json["summary"]["total"], 300);
    assert_eq!(json["summary"]["pass"], 300, "{:#}", json["summary"]);
}
