//! PAC evaluation in a child process with a memory limit. The engine bounds a script's steps
//! (loops, calls, stack) but not its bytes: a PAC that doubles a string a few dozen times would
//! exhaust this process's memory and abort the whole run. So `FindProxyForURL` runs in a copy of
//! pinscope (`pinscope __pac-child`) that first limits its own address space, and the run only
//! loses that target when the child dies.
//!
//! The two talk in JSON lines: the parent sends the script, URL and host; the child answers with
//! the result, or first asks the parent's [`PacEnv`] what a name resolves to or what this
//! machine's addresses are (the run's resolver, `--resolve` rules and all, stay in the parent).

use std::io::{BufRead as _, BufReader};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::pac::{Pac, PacEnv};

/// The hidden first argument that makes the binary a PAC child.
pub const CHILD_ARG: &str = "__pac-child";

/// The child's address-space limit. Generous for any real PAC (they are a few kilobytes of
/// `shExpMatch` calls), small enough that a runaway script fails fast on any machine.
const CHILD_MEMORY_BYTES: u64 = 1024 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct Request {
    text: String,
    url: String,
    host: String,
}

/// What the child writes, one per line.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FromChild {
    Resolve(String),
    MyAddresses,
    Answer(String),
    Error(String),
}

#[derive(Serialize, Deserialize)]
struct Addresses(Vec<IpAddr>);

/// Why the isolated evaluation gave no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IsolatedError {
    /// This program is not pinscope (a test harness): evaluate in-process instead.
    #[error("no pinscope binary to run the PAC in")]
    NotAvailable,
    /// The engine's own error (does not load, threw, hit a step bound, not a string).
    #[error("{0}")]
    Pac(String),
    /// The deadline passed and the child was stopped.
    #[error("FindProxyForURL did not return before the target's deadline")]
    Deadline,
    /// The child died: out of memory under its limit, or killed.
    #[error(
        "the PAC engine died ({0}): FindProxyForURL used more than the {limit} MiB a PAC may use, or crashed",
        limit = CHILD_MEMORY_BYTES >> 20
    )]
    Died(String),
    #[error("could not run the PAC engine: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs `FindProxyForURL(url, host)` of `text` in a memory-limited child, answering its network
/// questions with `env`, and stops it at `deadline`. Blocking: call it off the async threads.
pub fn evaluate(
    text: &str,
    url: &str,
    host: &str,
    env: &dyn PacEnv,
    deadline: Instant,
) -> Result<String, IsolatedError> {
    let exe = std::env::current_exe()?;
    // Unit tests run inside the test harness, which is not a pinscope to re-run.
    if exe.file_stem().and_then(|s| s.to_str()) != Some("pinscope") {
        return Err(IsolatedError::NotAvailable);
    }
    let mut child = Command::new(exe)
        .arg(CHILD_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(IsolatedError::Io(std::io::Error::other(
            "no pipes to the child",
        )));
    };
    let child = Arc::new(Mutex::new(child));
    let done = Arc::new(AtomicBool::new(false));
    let timed_out = Arc::new(AtomicBool::new(false));
    // The watchdog: the child cannot be trusted to return, so it is killed at the deadline.
    let watchdog = {
        let (child, done, timed_out) = (
            Arc::clone(&child),
            Arc::clone(&done),
            Arc::clone(&timed_out),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                if Instant::now() >= deadline {
                    timed_out.store(true, Ordering::Release);
                    let _ = lock(&child).kill();
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let result = converse(&mut stdin, stdout, text, url, host, env);
    done.store(true, Ordering::Release);
    drop(stdin);
    let _ = watchdog.join();
    let status = {
        let mut child = lock(&child);
        let _ = child.kill();
        child.wait()
    };
    match result {
        Some(Ok(answer)) => Ok(answer),
        Some(Err(message)) => Err(IsolatedError::Pac(message)),
        None if timed_out.load(Ordering::Acquire) => Err(IsolatedError::Deadline),
        None => Err(IsolatedError::Died(match status {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        })),
    }
}

/// The parent's side: the request, then answers to the child's questions until it has a result
/// (`None`: the child went away without one).
fn converse(
    stdin: &mut std::process::ChildStdin,
    stdout: std::process::ChildStdout,
    text: &str,
    url: &str,
    host: &str,
    env: &dyn PacEnv,
) -> Option<Result<String, String>> {
    let request = Request {
        text: text.to_owned(),
        url: url.to_owned(),
        host: host.to_owned(),
    };
    send(stdin, &request).ok()?;
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines.next()?.ok()?;
        match serde_json::from_str::<FromChild>(&line).ok()? {
            FromChild::Answer(answer) => return Some(Ok(answer)),
            FromChild::Error(message) => return Some(Err(message)),
            FromChild::Resolve(name) => send(stdin, &Addresses(env.resolve(&name))).ok()?,
            FromChild::MyAddresses => send(stdin, &Addresses(env.my_addresses())).ok()?,
        }
    }
}

fn send<T: Serialize>(out: &mut impl std::io::Write, value: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(std::io::Error::from)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The child's side (`pinscope __pac-child`): limit this process's memory, read the request,
/// evaluate, write the result. Returns the exit status.
pub fn child_main() -> u8 {
    // Where the limit cannot be set (not Linux's RLIMIT_AS semantics), the script still runs in a
    // process of its own: a runaway one takes only that process down.
    let _ = rlimit::setrlimit(rlimit::Resource::AS, CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES);
    let mut first = String::new();
    if std::io::stdin().lock().read_line(&mut first).is_err() {
        return 2;
    }
    let Ok(request) = serde_json::from_str::<Request>(&first) else {
        return 2;
    };
    let result = Pac::with_env(&request.text, Arc::new(ParentEnv))
        .and_then(|mut pac| pac.find_proxy(&request.url, &request.host));
    let message = match result {
        Ok(answer) => FromChild::Answer(answer),
        Err(e) => FromChild::Error(e.to_string()),
    };
    match send(&mut std::io::stdout().lock(), &message) {
        Ok(()) => 0,
        Err(_) => 2,
    }
}

/// The child's [`PacEnv`]: each question goes to the parent, which answers on standard input.
struct ParentEnv;

impl ParentEnv {
    fn ask(&self, question: &FromChild) -> Vec<IpAddr> {
        if send(&mut std::io::stdout().lock(), question).is_err() {
            return Vec::new();
        }
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).is_err() {
            return Vec::new();
        }
        serde_json::from_str::<Addresses>(&line)
            .map(|a| a.0)
            .unwrap_or_default()
    }
}

impl PacEnv for ParentEnv {
    fn resolve(&self, host: &str) -> Vec<IpAddr> {
        self.ask(&FromChild::Resolve(host.to_owned()))
    }

    fn my_addresses(&self) -> Vec<IpAddr> {
        self.ask(&FromChild::MyAddresses)
    }
}
