//! What reaches a terminal: certificate names holding escape sequences, BEL, newlines and bidi
//! overrides are shown escaped in every format; the table fits the terminal; bare `pinscope`, the
//! help's format lists and `--color`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;

/// A common name as a forger may choose it: clear the screen (CSI 2J), retitle the terminal (OSC 0
/// ended by BEL), a newline, a right-to-left override and a C1 CSI.
const EVIL: &str =
    "Evil\u{1b}[2J CA\u{1b}]0;pwned\u{7}\nline two \u{202e}txt.exe\u{2066} \u{9b}31m";

/// Characters that must never reach the output as themselves.
const RAW: [char; 6] = ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}', '\r'];

/// A chain whose leaf and issuing CA are both named [`EVIL`], the CA trusted by this machine's
/// store (so the verdict is interception, and the report names the CA that forged it).
fn evil_inspect(scratch: &Scratch, format: &str) -> Run {
    let public = Ca::root("Lab Public Root");
    let evil = Ca::root(EVIL);
    let mut params = leaf_params(&["gdmf.apple.com"]);
    params.distinguished_name = name(EVIL, EVIL);
    let leaf = evil.leaf_from(params, vec![&evil], rcgen::KeyPair::generate().unwrap());
    let chain = scratch.file("chain.pem", &leaf.pem);
    pinscope([
        "inspect".to_string(),
        chain.display().to_string(),
        "--host=gdmf.apple.com".into(),
        format!("--format={format}"),
        scratch.roots("public", &public.pem),
        scratch.roots("native", &evil.pem),
    ])
}

#[test]
fn certificate_names_with_escape_sequences_and_bidi_overrides_are_shown_escaped_in_every_format() {
    let scratch = Scratch::new();
    for format in ["table", "markdown", "junit", "html", "json", "jsonl"] {
        let run = evil_inspect(&scratch, format);
        assert!(
            run.code == 1 || run.code == 3,
            "{format}: exit {}\n{}\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        for c in RAW {
            assert!(
                !run.stdout.contains(c) && !run.stderr.contains(c),
                "{format}: {c:?} reached the output raw:\n{:?}\n{:?}",
                run.stdout,
                run.stderr
            );
        }
        // The name did reach each report, escaped.
        let shown = match format {
            "json" | "jsonl" => "\\u001b[2J",
            _ => "x1b",
        };
        if format != "table" {
            assert!(run.stdout.contains(shown), "{format}: {}", run.stdout);
        }
        if format == "markdown" {
            // One-line contexts show the newline escaped, so a table row stays one row.
            for row in run.stdout.lines().filter(|l| l.starts_with('|')) {
                assert!(row.ends_with('|'), "{row}");
            }
        }
    }
}

#[test]
fn bare_pinscope_prints_the_command_list() {
    let run = pinscope::<[&str; 0], &str>([]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for command in ["audit", "catalog", "inspect", "export", "baseline", "man"] {
        assert!(run.stdout.contains(command), "{}", run.stdout);
    }
    let run = pinscope(["baseline"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("save"), "{}", run.stdout);
}

#[test]
fn catalog_help_offers_only_the_formats_catalog_writes() {
    let help = pinscope(["catalog", "--help"]).stdout;
    assert!(help.contains("table") && help.contains("json"), "{help}");
    for refused in ["markdown", "junit", "html", "jsonl"] {
        assert!(
            !help.contains(refused),
            "catalog --help offers {refused}:\n{help}"
        );
    }
    let audit = pinscope(["audit", "--help"]).stdout;
    for format in ["table", "json", "jsonl", "markdown", "html", "junit"] {
        assert!(audit.contains(format), "{audit}");
    }
}

#[test]
fn color_always_colours_a_pipe_never_and_no_color_do_not() {
    let scratch = Scratch::new();
    let public = Ca::root("Lab Public Root");
    let leaf = public.leaf(&["example.test"], true);
    let chain = scratch.file("chain.pem", &leaf.pem);
    let inspect = |color: &str, no_color: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pinscope"));
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd
            .args([
                "inspect",
                "--host=example.test",
                &format!("--color={color}"),
            ])
            .arg(&chain)
            .arg(scratch.roots("public", &public.pem))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(inspect("always", true).contains("\u{1b}["));
    assert!(!inspect("never", false).contains('\u{1b}'));
    assert!(
        !inspect("auto", false).contains('\u{1b}'),
        "piped: no colour"
    );
    let bad = pinscope(["catalog", "--color=sometimes"]);
    assert_eq!(bad.code, 2);
}

/// Runs `pinscope ARGS` on a pseudo-terminal (util-linux `script`) with `COLUMNS`, or `None` when
/// `script` is missing.
fn on_a_terminal(args: &str, columns: usize) -> Option<String> {
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{} {args}", env!("CARGO_BIN_EXE_pinscope")),
            "/dev/null",
        ])
        .env("COLUMNS", columns.to_string())
        .env("NO_COLOR", "1")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).replace('\r', ""))
}

#[test]
fn the_catalog_table_fits_the_terminal_and_is_whole_when_piped() {
    let Some(tty) = on_a_terminal("catalog", 80) else {
        skip("util-linux `script` is not installed; no pseudo-terminal to test on");
        return;
    };
    let widest = |text: &str| text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest(&tty) <= 80, "{tty}");
    assert!(tty.contains('…'), "{tty}");
    let piped = pinscope(["catalog"]).stdout;
    assert!(widest(&piped) > 80);
    assert!(!piped.contains('…'));
    assert_eq!(tty.lines().count(), piped.lines().count());
}

#[test]
fn every_man_page_the_pages_refer_to_exists_with_exit_status_and_environment() {
    let main = pinscope(["man"]);
    assert_eq!(main.code, 0, "{}", main.stderr);
    let mut pages = vec![(String::from("pinscope"), main.stdout)];
    let mut seen = 0;
    while seen < pages.len() {
        let (name, roff) = pages[seen].clone();
        seen += 1;
        assert!(roff.contains(".SH \"EXIT STATUS\""), "{name}:\n{roff}");
        assert!(!roff.contains(".SH EXTRA"), "{name}:\n{roff}");
        for var in [
            "HTTPS_PROXY",
            "NO_PROXY",
            "ALL_PROXY",
            "NO_COLOR",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "PINSCOPE_",
        ] {
            assert!(roff.contains(var), "{name} lacks {var}");
        }
        // Pages referred to as pinscope\-baseline\-save(1).
        for word in roff.split(|c: char| c.is_whitespace()) {
            let Some(reference) = word.strip_suffix("(1)") else {
                continue;
            };
            let reference = reference.replace("\\-", "-");
            let Some(sub) = reference.strip_prefix("pinscope-") else {
                continue;
            };
            if sub == "help" || pages.iter().any(|(n, _)| *n == reference) {
                continue;
            }
            let words: Vec<&str> = sub.split('-').collect();
            let mut args = vec!["man"];
            args.extend(&words);
            let page = pinscope(&args);
            assert_eq!(
                page.code, 0,
                "{name} refers to {reference}: {}",
                page.stderr
            );
            assert!(
                page.stdout
                    .contains(&format!(".TH {}", reference.replace('-', "\\-")))
                    || page.stdout.contains(&format!(".TH {reference}")),
                "{reference}:\n{}",
                page.stdout
            );
            pages.push((reference, page.stdout));
        }
    }
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"pinscope-baseline-save"), "{names:?}");
    assert_eq!(
        pinscope(["man", "baseline-save"]).stdout,
        pinscope(["man", "baseline", "save"]).stdout
    );
    let catalog = &pages
        .iter()
        .find(|(n, _)| n == "pinscope-catalog")
        .unwrap()
        .1;
    assert!(!catalog.contains("intercepted"), "catalog does not judge");
    assert_eq!(pinscope(["man", "baseline", "nope"]).code, 2);
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

#[test]
fn ctrl_c_clears_the_progress_bar_and_reports_the_run_as_interrupted() {
    // A server that accepts and never answers: the probe waits for its handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let Ok(script) = Command::new("script")
        .args([
            "-qec",
            &format!(
                "{} audit 127.0.0.1:{port} --timeout=30 --no-revocation",
                env!("CARGO_BIN_EXE_pinscope")
            ),
            "/dev/null",
        ])
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        skip("util-linux `script` is not installed; no pseudo-terminal to test on");
        return;
    };
    // Let the bar be drawn, then interrupt pinscope itself (script's child, or its shell's).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let mut pinscope_pid = None;
    let mut queue = children(script.id());
    while let Some(pid) = queue.pop() {
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.starts_with(env!("CARGO_BIN_EXE_pinscope")) {
            pinscope_pid = Some(pid);
        }
        queue.extend(children(pid));
    }
    let pid = pinscope_pid.expect("pinscope runs under script");
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let out = script.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(130), "{text:?}");
    let bar = text.rfind("0/1").expect("the progress bar was drawn");
    let table = text.find("TARGET").expect("the table");
    assert!(bar < table, "{text:?}");
    assert!(
        text[bar..table].contains("\r\u{1b}[2K"),
        "the bar is cleared before the report: {text:?}"
    );
    assert!(text.contains("interrupted"), "{text:?}");
}

#[test]
fn on_a_terminal_the_audit_table_fits_and_shows_a_hostile_name_escaped() {
    let scratch = Scratch::new();
    let public = Ca::root("Lab Public Root");
    let evil = Ca::root(EVIL);
    let leaf = evil.leaf(&["gdmf.apple.com"], true);
    let chain = scratch.file("chain.pem", &leaf.pem);
    let args = format!(
        "inspect {} --host=gdmf.apple.com {} {}",
        chain.display(),
        scratch.roots("public", &public.pem),
        scratch.roots("native", &evil.pem)
    );
    let Some(tty) = on_a_terminal(&args, 70) else {
        skip("util-linux `script` is not installed; no pseudo-terminal to test on");
        return;
    };
    assert!(tty.contains("intercepted"), "{tty}");
    for c in RAW {
        assert!(!tty.contains(c), "{c:?} reached the terminal: {tty:?}");
    }
    for line in tty.lines() {
        assert!(line.chars().count() <= 70, "{line:?}");
    }
    assert!(tty.contains('…'), "{tty}");
    assert!(tty.contains("\\x1b[2J"), "the name, escaped: {tty}");
}
