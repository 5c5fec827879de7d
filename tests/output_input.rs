//! Where output goes and where input comes from: `-o` writes through symbolic links and FIFOs,
//! replaces regular files atomically with the umask's mode, `-` is standard output or input; host
//! input is normalised (IDN, URLs, trailing dots, BOMs) and bad input is reported in words.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use common::*;

/// `pinscope ARGS` run by a shell with `umask MASK`.
fn with_umask(mask: &str, args: &[&str]) -> std::process::Output {
    let mut script = format!("umask {mask}; exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_pinscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_output_file_gets_the_umask_mode_and_a_replaced_one_keeps_its_mode() {
    let s = Scratch::new();
    let out = s.path("catalog.json");
    let o = out.to_str().unwrap();
    let run = with_umask("022", &["catalog", "--format", "json", "-o", o]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert_eq!(mode(&out), 0o644);
    let other = s.path("other.json");
    let run = with_umask(
        "027",
        &["catalog", "--format", "json", "-o", other.to_str().unwrap()],
    );
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert_eq!(mode(&other), 0o640);
    // An existing file keeps the mode its owner gave it.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = with_umask("022", &["catalog", "--format", "json", "-o", o]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert_eq!(mode(&out), 0o600);
    assert!(std::fs::read_to_string(&out).unwrap().starts_with('['));
}

#[test]
fn a_symbolic_link_is_written_through_and_kept() {
    let s = Scratch::new();
    let target = s.file("real.json", "old");
    let link = s.path("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let run = pinscope(["catalog", "--format", "json", "-o", link.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.starts_with('['), "{text}");
    // A dangling link creates its target.
    let dangling = s.path("dangling.json");
    let created = s.path("created.json");
    std::os::unix::fs::symlink(&created, &dangling).unwrap();
    let run = pinscope([
        "catalog",
        "--format",
        "json",
        "-o",
        dangling.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(std::fs::read_to_string(&created).unwrap().starts_with('['));
}

#[test]
fn a_fifo_is_written_directly() {
    let s = Scratch::new();
    let fifo = s.path("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let run = pinscope(["catalog", "--format", "json", "-o", fifo.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = reader.join().unwrap();
    assert!(text.starts_with('['), "{text}");
    let ft = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&ft),
        "the FIFO was replaced"
    );
}

#[test]
fn dash_is_standard_output() {
    let s = Scratch::new();
    let run = pinscope_command()
        .current_dir(s.dir.path())
        .args(["catalog", "--format", "json", "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&run.stdout).starts_with('['));
    assert!(!s.path("-").exists(), "a file named '-' was written");
}

#[test]
fn a_directory_as_output_is_refused_naming_it() {
    let s = Scratch::new();
    let dir = s.path("d");
    std::fs::create_dir(&dir).unwrap();
    let run = pinscope(["catalog", "-o", dir.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(dir.to_str().unwrap()), "{}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
}
