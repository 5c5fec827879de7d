//! PAC evaluation in a child process with a memory limit. The engine bounds a script's steps
//! (loops, calls, stack) but not its bytes: a PAC that doubles a string a few dozen times would
//! exhaust this process's memory and abort the whole run. So `FindProxyForURL` runs in a copy of
//! pinscope (`pinscope __pac-child`) that first limits its own address space, and the run only
//! loses that target when the child dies.
//!
//! The two talk in JSON lines: the parent sends the script, URL and host; the child answers with
//! the result, or first asks the parent's [`PacEnv`] what a name resolves to or what this
//! machine's addresses are (the run's resolver, `--resolve` rules and all, stay in the parent).

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::lock;
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
    /// Only load the script (its top level runs), do not call `FindProxyForURL`.
    #[serde(default)]
    load_only: bool,
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

/// Loads `text` in a memory-limited child (its top level runs there, not here), as the check
/// before a run: the engine's error when it does not load. Its top level's network questions are
/// answered with nothing.
pub fn load(text: &str, deadline: Instant) -> Result<(), IsolatedError> {
    struct Offline;
    impl PacEnv for Offline {
        fn resolve(&self, _host: &str) -> Vec<IpAddr> {
            Vec::new()
        }
        fn my_addresses(&self) -> Vec<IpAddr> {
            Vec::new()
        }
    }
    let request = Request {
        text: text.to_owned(),
        url: String::new(),
        host: String::new(),
        load_only: true,
    };
    run(&request, Arc::new(Offline), deadline).map(|_| ())
}

/// Runs `FindProxyForURL(url, host)` of `text` in a memory-limited child, answering its network
/// questions with `env`, and stops it at `deadline`. Blocking: call it off the async threads.
pub fn evaluate(
    text: &str,
    url: &str,
    host: &str,
    env: Arc<dyn PacEnv>,
    deadline: Instant,
) -> Result<String, IsolatedError> {
    let request = Request {
        text: text.to_owned(),
        url: url.to_owned(),
        host: host.to_owned(),
        load_only: false,
    };
    run(&request, env, deadline)
}

/// The program to start as the child: this one. On Linux `/proc/self/exe`, which still works
/// after a package upgrade replaced the file on disk (the path `current_exe` gives then ends in
/// " (deleted)").
fn this_program() -> std::io::Result<std::path::PathBuf> {
    let proc_self = std::path::Path::new("/proc/self/exe");
    if proc_self.exists() {
        Ok(proc_self.to_path_buf())
    } else {
        std::env::current_exe()
    }
}

fn run(
    request: &Request,
    env: Arc<dyn PacEnv>,
    deadline: Instant,
) -> Result<String, IsolatedError> {
    // Unit tests run inside the test harness, which is not a pinscope to re-run: there the script
    // runs in this process.
    if cfg!(test) {
        return answer(request, env).map_err(|e| IsolatedError::Pac(e.to_string()));
    }
    let mut child = Command::new(this_program()?)
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
    let result = converse(&mut stdin, stdout, request, env.as_ref());
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
    request: &Request,
    env: &dyn PacEnv,
) -> Option<Result<String, String>> {
    send(stdin, request).ok()?;
    let mut reader = BufReader::new(stdout);
    loop {
        // The child runs the script, so what it writes is bounded here: a line longer than any
        // answer or host name a PAC can mean ends the conversation (the child is then killed).
        let mut line = Vec::new();
        (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut line)
            .ok()?;
        if !line.ends_with(b"\n") {
            return None;
        }
        match serde_json::from_slice::<FromChild>(&line).ok()? {
            FromChild::Answer(answer) => return Some(Ok(answer)),
            FromChild::Error(message) => return Some(Err(message)),
            // No DNS name is longer than 253 characters: a longer one is not looked up.
            FromChild::Resolve(name) if name.len() > 253 => {
                send(stdin, &Addresses(Vec::new())).ok()?;
            }
            FromChild::Resolve(name) => send(stdin, &Addresses(env.resolve(&name))).ok()?,
            FromChild::MyAddresses => send(stdin, &Addresses(env.my_addresses())).ok()?,
        }
    }
}

/// The longest line the parent reads from the child.
const MAX_LINE_BYTES: u64 = 64 * 1024;

fn send<T: Serialize>(out: &mut impl std::io::Write, value: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(std::io::Error::from)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
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
    let message = match answer(&request, Arc::new(ParentEnv)) {
        Ok(answer) => FromChild::Answer(answer),
        Err(e) => FromChild::Error(e.to_string()),
    };
    match send(&mut std::io::stdout().lock(), &message) {
        Ok(()) => 0,
        Err(_) => 2,
    }
}

/// What a request asks of the engine: load the script, and call `FindProxyForURL` unless only
/// loading was asked (the empty answer then).
fn answer(request: &Request, env: Arc<dyn PacEnv>) -> Result<String, crate::pac::PacError> {
    let mut pac = Pac::with_env(&request.text, env)?;
    if request.load_only {
        Ok(String::new())
    } else {
        pac.find_proxy(&request.url, &request.host)
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
