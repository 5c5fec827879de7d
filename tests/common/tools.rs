//! What a test needs from the machine beyond the binary: commands (openssl, squid, mitmproxy,
//! xmllint, Chromium, node) and the reference data beside the project. A test skips, with the
//! reason printed, where one is missing, unless its `PINSCOPE_REQUIRE_<X>=1` is set (as `.ci/run`
//! does), which makes the absence a failure. Every skip goes through [`skip`], so CI can count
//! them (`PINSCOPE_SKIP_LOG`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Says why the calling test skips: on standard error (which `cargo test` shows only for failing
/// tests) and, when `PINSCOPE_SKIP_LOG` names a file, as one line appended to it (test binary,
/// test name, reason), which `.ci/run` counts and prints after the run so no skip passes unseen.
/// The caller returns right after.
pub fn skip(reason: &str) {
    eprintln!("skipping: {reason}");
    let Some(log) = std::env::var_os("PINSCOPE_SKIP_LOG").filter(|v| !v.is_empty()) else {
        return;
    };
    // libtest runs each test on a thread named after it; the binary's name is the file's
    // (`terminal-0123abcd`) without cargo's hash.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| {
            s.rsplit_once('-')
                .map_or(s.clone(), |(name, _)| name.to_owned())
        })
        .unwrap_or_default();
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let reason = reason.replace('\n', " ");
    // One write of one line in append mode: tests running at once (threads, and the test
    // binaries cargo runs one after another) do not interleave their lines.
    let line = format!("{binary}::{test}: {reason}\n");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .unwrap_or_else(|e| panic!("cannot append to PINSCOPE_SKIP_LOG {log:?}: {e}"));
}

/// Where `name` is, or `None` after printing why the test skips; with `env_var`=1 a missing one
/// fails the test instead.
///
/// `name` is a command looked up on PATH; or an absolute path, where Debian installs the command
/// (looked up on PATH by its file name where that path is absent); or a path relative to the
/// crate, to a file or directory such as `../shared/reference`.
pub fn require_tool(name: &str, env_var: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    let (found, missing) = if path.is_relative() && name.contains('/') {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let missing = format!("{} is absent", path.display());
        (path.exists().then_some(path), missing)
    } else {
        let command = path.file_name().unwrap().to_string_lossy().into_owned();
        let found = path
            .is_absolute()
            .then(|| path.to_path_buf())
            .filter(|p| p.is_file())
            .or_else(|| on_path(&command));
        (found, format!("{command} is not installed"))
    };
    if found.is_none() {
        if std::env::var(env_var).is_ok_and(|v| v == "1") {
            panic!("{env_var}=1 but {missing}");
        }
        skip(&format!("{missing} (set {env_var}=1 to require it)"));
    }
    found
}

fn on_path(command: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(command))
            .find(|p| p.is_file())
    })
}

/// The folder of real certificates beside the project (`../shared/reference`), or `None`.
pub fn reference() -> Option<PathBuf> {
    require_tool("../shared/reference", "PINSCOPE_REQUIRE_REFERENCE")
}

/// The path of one of Apple's certificates in the reference folder (`apple-pki/NAME.cer`).
pub fn apple_pki(reference: &Path, name: &str) -> String {
    reference
        .join("apple-pki")
        .join(format!("{name}.cer"))
        .display()
        .to_string()
}

/// Runs `openssl` with these arguments in `dir`; panics with its stderr when it fails.
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
