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

#[test]
fn inspect_reads_the_chain_from_standard_input_and_normalises_the_host() {
    let lab = Lab::new();
    let host = "xn--bcher-kva.example";
    let leaf = lab.public.leaf(&[host], true);
    let mut args = vec![
        "inspect".to_string(),
        "-".into(),
        "--host=Bücher.Example.".into(),
        "--format=json".into(),
    ];
    args.extend(lab.trust());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = pinscope_with_stdin(&args, leaf.pem.as_bytes());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(target(&run.json(), host)["verdict"], "pass");
    let twice = pinscope_with_stdin(&["inspect", "-", "-", "--host=a.example"], b"");
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("only once"), "{}", twice.stderr);
}

#[test]
fn targets_from_standard_input_accept_urls_idn_trailing_dots_and_a_bom() {
    let port = closed_port();
    let list = format!(
        "\u{feff}https://gdmf.apple.com:{port}/path?q\nbücher.example.:{port}\nGDMF.apple.com.:{port} # again\n"
    );
    let run = pinscope_with_stdin(
        &[
            "audit",
            "--targets",
            "-",
            // curl's '+' prefix: accepted like the plain form, and it covers the normalised name.
            &format!("--resolve=+bücher.example.:{port}:127.0.0.1"),
            &format!("--resolve=+gdmf.apple.com:{port}:127.0.0.1"),
            "--format=json",
            "--no-revocation",
            "--timeout=5",
        ],
        list.as_bytes(),
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{targets:?}");
    for host in ["gdmf.apple.com", "xn--bcher-kva.example"] {
        let t = target(&json, host);
        assert_eq!(t["port"], port);
        assert!(has_code(t, "connection_refused"), "{t}");
    }
    let http = pinscope([
        "audit",
        "http://a.example/",
        "--resolve=+a.example:80:256.0.0.1",
    ]);
    assert_eq!(http.code, 2, "{}", http.stderr);
    assert!(http.stderr.contains("256.0.0.1"), "{}", http.stderr);
}

#[test]
fn every_bad_target_line_is_reported_once_with_its_number() {
    let s = Scratch::new();
    let file = s.file("t.txt", "a.example\nbad host\n\nftp://x/\nb.example:0\n");
    let run = pinscope(["audit", "--targets", file.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let shown = file.display().to_string();
    for line in [2, 4, 5] {
        assert_eq!(
            run.stderr.matches(&format!("{shown}:{line}:")).count(),
            1,
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        run.stderr.matches("not a valid host name").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(&format!("{shown}:1:")),
        "{}",
        run.stderr
    );
}

#[test]
fn certificate_errors_are_in_words() {
    let s = Scratch::new();
    let truncated = s.file(
        "t.pem",
        "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n",
    );
    let unended = s.file("u.pem", "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n");
    let junk = s.file("j.der", "junk");
    for file in [truncated, unended, junk] {
        let run = pinscope(["inspect", file.to_str().unwrap(), "--host=a.example"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        for debug in ["Der(", "NomError", "UnexpectedTag", "[45, 45"] {
            assert!(!run.stderr.contains(debug), "{}", run.stderr);
        }
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    }
}

#[test]
fn curl_resolve_removal_is_refused_not_ignored() {
    let run = pinscope(["audit", "a.example", "--resolve=-a.example:443"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--resolve '-a.example:443'"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_fifo_whose_reader_goes_away_is_exit_2_with_one_line_naming_it() {
    let s = Scratch::new();
    let fifo = s.path("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        // Opens the FIFO (so the writer's open returns) and closes it without reading.
        std::thread::spawn(move || drop(std::fs::File::open(fifo).unwrap()))
    };
    // The JSON catalog is larger than a pipe's buffer, so the write cannot all land before the
    // reader is gone.
    let run = pinscope(["catalog", "--format", "json", "-o", fifo.to_str().unwrap()]);
    reader.join().unwrap();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(fifo.to_str().unwrap()),
        "{}",
        run.stderr
    );
}

#[test]
fn connect_to_points_a_name_and_port_at_another_keeping_the_name() {
    let lab = Lab::new();
    let port = tls_server(&lab.public.leaf(&["a.example", "b.example"], true));
    // Any host on :443 goes to the lab port; the name sent and judged stays the target's.
    let mut args = vec![
        "audit".to_string(),
        "a.example".into(),
        "https://B.example./".into(),
        format!("--connect-to=::127.0.0.1:{port}"),
        "--format=json".into(),
        "--no-revocation".into(),
    ];
    args.extend(lab.trust());
    let run = pinscope(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    for host in ["a.example", "b.example"] {
        let t = target(&json, host);
        assert_eq!(t["port"], 443);
        assert_eq!(t["verdict"], "pass", "{t}");
    }
    // A rule for another host:port leaves the target alone (nothing listens on its port).
    let closed = closed_port();
    let mut args = vec![
        "audit".to_string(),
        format!("a.example:{closed}"),
        format!("--resolve=a.example:{closed}:127.0.0.1"),
        format!("--connect-to=b.example:{closed}:127.0.0.1:{port}"),
        "--format=json".into(),
        "--no-revocation".into(),
    ];
    args.extend(lab.trust());
    let run = pinscope(&args);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(has_code(
        target(&run.json(), "a.example"),
        "connection_refused"
    ));
    let bad = pinscope(["audit", "a.example", "--connect-to=a.example:443:b"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("HOST1:PORT1:HOST2:PORT2"),
        "{}",
        bad.stderr
    );
}

#[test]
fn dev_stdout_appending_to_a_file_keeps_what_was_there() {
    let s = Scratch::new();
    let file = s.file("log.txt", "first\n");
    let run = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" catalog --format json -o /dev/stdout >> \"$1\"")
        .arg(env!("CARGO_BIN_EXE_pinscope"))
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("first\n["),
        "{}",
        &text[..40.min(text.len())]
    );
}
