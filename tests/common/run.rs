//! Running the built binary, and the scratch folder that holds the files handed to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

    /// `--{store}-roots=FILE` (store: `public`, `native`, …), the PEM written to `{store}.pem`.
    pub fn roots(&self, store: &str, pem: &str) -> String {
        format!(
            "--{store}-roots={}",
            self.file(&format!("{store}.pem"), pem).display()
        )
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
    /// What a finished process gave, `started` when it was started.
    pub fn from_output(out: Output, started: Instant) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `cmd` with `input` on its standard input, capturing its output.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Dropped at the end of the statement: the program sees the end of its input.
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// `pinscope ARGS` with `input` on standard input.
pub fn pinscope_with_stdin(args: &[&str], input: &[u8]) -> Run {
    let started = Instant::now();
    Run::from_output(
        output_with_stdin(pinscope_command().args(args), input),
        started,
    )
}

/// The built binary as a command, colours off; the caller adds arguments and environment.
pub fn pinscope_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pinscope"));
    cmd.env("NO_COLOR", "1");
    cmd
}

pub fn pinscope<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let started = Instant::now();
    let out = pinscope_command()
        .args(args)
        .output()
        .expect("run pinscope");
    Run::from_output(out, started)
}

/// `audit ARGS --timeout=SECS --no-revocation --format=json`, each target's verdict and first
/// finding printed; the whole run must end within the deadline plus 2 s (process start-up).
pub fn audit_within(args: &[String], secs: u64) -> Run {
    let mut all = vec!["audit".to_string()];
    all.extend(args.iter().cloned());
    all.extend([
        format!("--timeout={secs}"),
        "--no-revocation".into(),
        "--format=json".into(),
    ]);
    let run = pinscope(&all);
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&run.stdout) {
        for t in json["targets"].as_array().into_iter().flatten() {
            let f = &t["findings"][0];
            eprintln!(
                "{}:{}: verdict={} code={} message={:?} addresses={} address_used={} ({} ms)",
                t["host"],
                t["port"],
                t["verdict"],
                f["code"],
                f["message"],
                t["addresses"],
                t["address_used"],
                t["elapsed_ms"]
            );
        }
    }
    eprintln!("run took {:?}, exit {}", run.elapsed, run.code);
    assert!(
        run.elapsed < Duration::from_secs(secs + 2),
        "the run took {:?}, over the {secs}s deadline + 2s\n{}\n{}",
        run.elapsed,
        run.stdout,
        run.stderr
    );
    run
}

/// Runs the binary with these arguments, killing it (and failing) if it outlives `deadline`.
pub fn pinscope_within<I, S>(args: I, deadline: Duration) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let started = Instant::now();
    let out = run_with_deadline(pinscope_command().args(args), deadline);
    Run::from_output(out, started)
}

/// Runs a command (no standard input), killing it and failing if it outlives the deadline.
pub fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{cmd:?} did not finish within {deadline:?}");
        }
    }
}

/// `--resolve host:port:127.0.0.1`
pub fn resolve(host: &str, port: u16) -> String {
    format!("--resolve={host}:{port}:127.0.0.1")
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}
