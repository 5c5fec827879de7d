//! `pinscope report`: saved results (JSON or JSON Lines) re-rendered without probing, with the
//! audit's exit code; `export --from` and `baseline save` reading the same files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

const GOOD: &str = "deviceenrollment.apple.com";
const BAD: &str = "albert.apple.com";

/// One audit of a passing and an intercepted target, saved as JSON and as JSON Lines, and its
/// table; the servers are gone before anything is re-rendered.
struct Saved {
    lab: Lab,
    json: std::path::PathBuf,
    jsonl: std::path::PathBuf,
    table: String,
    targets: Vec<(&'static str, u16)>,
}

fn saved() -> Saved {
    let lab = Lab::new();
    let good = tls_server(&lab.public.leaf(&[GOOD], true));
    let bad = tls_server(&lab.inspection.leaf(&[BAD], true));
    let targets = vec![(GOOD, good), (BAD, bad)];
    let json = lab.scratch.path("report.json");
    let jsonl = lab.scratch.path("report.jsonl");
    let run = lab.audit(
        &targets,
        &["--no-revocation", &format!("--output={}", json.display())],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let audit = |extra: &[String]| {
        let mut args = vec!["audit".to_string(), "--no-revocation".into()];
        for (host, port) in &targets {
            args.push(format!("{host}:{port}"));
            args.push(resolve(host, *port));
        }
        args.extend(extra.iter().cloned());
        args.extend(lab.trust());
        pinscope(&args)
    };
    let run = audit(&[
        "--format=jsonl".into(),
        format!("--output={}", jsonl.display()),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let table = audit(&["--format=table".into()]);
    assert_eq!(table.code, 1, "{}", table.stderr);
    Saved {
        lab,
        json,
        jsonl,
        table: table.stdout,
        targets,
    }
}

fn report(file: &std::path::Path, format: &str) -> Run {
    pinscope([
        "report".to_string(),
        file.display().to_string(),
        format!("--format={format}"),
    ])
}

#[test]
fn saved_results_are_re_rendered_in_every_format_with_the_audits_exit_code() {
    let s = saved();
    assert!(!s.targets.is_empty());
    // JSON and JSON Lines come back byte for byte.
    let json = report(&s.json, "json");
    assert_eq!(json.code, 1, "{}", json.stderr);
    assert_eq!(json.stdout, std::fs::read_to_string(&s.json).unwrap());
    let jsonl = report(&s.jsonl, "jsonl");
    assert_eq!(jsonl.code, 1, "{}", jsonl.stderr);
    assert_eq!(jsonl.stdout, std::fs::read_to_string(&s.jsonl).unwrap());
    // The table is the one the audit printed, from either file.
    for file in [&s.json, &s.jsonl] {
        let table = report(file, "table");
        assert_eq!(table.code, 1, "{}", table.stderr);
        // Each of the three runs has its own start and duration (the `Run:` line); everything
        // else, the context included, is the same.
        assert!(table.stdout.contains("\nRun: Started "), "{}", table.stdout);
        let sorted = |t: &str| {
            let mut lines: Vec<String> = t
                .lines()
                .filter(|l| !l.starts_with("Run: "))
                .map(str::to_owned)
                .collect();
            lines.sort();
            lines
        };
        // JSON Lines keeps the order targets finished in; the lines are the same.
        assert_eq!(
            sorted(&table.stdout),
            sorted(&s.table),
            "{}",
            file.display()
        );
    }
    // JSON Lines turned into a document and back into lines reads the same.
    let doc = report(&s.jsonl, "json");
    let value: serde_json::Value = serde_json::from_str(&doc.stdout).unwrap();
    assert_eq!(value["summary"]["intercepted"], 1);
    assert_eq!(value["targets"].as_array().unwrap().len(), 2);
    for (format, sign) in [
        ("markdown", "albert.apple.com:"),
        ("html", "<html"),
        ("junit", "<testsuites"),
    ] {
        let run = report(&s.json, format);
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        assert!(run.stdout.contains(sign), "{format}: {}", run.stdout);
        assert!(run.stdout.contains(BAD), "{format}");
    }
    let md = report(&s.json, "markdown").stdout;
    assert!(md.contains("Corp SSL Inspection CA"), "{md}");
}

#[test]
fn standard_input_and_cut_short_json_lines_are_read() {
    let s = saved();
    let text = std::fs::read_to_string(&s.jsonl).unwrap();
    let out = output_with_stdin(
        pinscope_command().args(["report", "-", "--format=markdown"]),
        text.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(BAD));
    // Without the trailer (a run cut off), the exit code comes from the verdicts.
    let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    let cut = s.lab.scratch.file("cut.jsonl", &cut);
    let run = report(&cut, "table");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("2 targets: 1 pass, 1 intercepted"));
    // A bad line is named by its number.
    let bad = s.lab.scratch.file(
        "bad.jsonl",
        &format!(
            "{}{{\"host\": 1}}\n",
            text.lines().next().unwrap().to_owned() + "\n"
        ),
    );
    let run = report(&bad, "table");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("bad.jsonl:2: "), "{}", run.stderr);
}

#[test]
fn export_reads_json_lines_and_defaults_to_what_is_not_passing() {
    let s = saved();
    for file in [&s.json, &s.jsonl] {
        let list = pinscope(["export", &format!("--from={}", file.display())]);
        assert_eq!(list.code, 0, "{}", list.stderr);
        assert_eq!(list.stdout.lines().collect::<Vec<_>>(), [BAD]);
        let both = pinscope([
            "export",
            &format!("--from={}", file.display()),
            "--only=pass,intercepted",
        ]);
        assert_eq!(both.stdout.lines().count(), 2);
    }
}

#[test]
fn baseline_save_prints_a_summary_and_exits_0_once_written() {
    let s = saved();
    let lab = &s.lab;
    let good = tls_server(&lab.public.leaf(&[GOOD], true));
    let bad = tls_server(&lab.inspection.leaf(&[BAD], true));
    let file = lab.scratch.path("baseline.json");
    let mut args = vec![
        "baseline".to_string(),
        "save".into(),
        file.display().to_string(),
        "--no-revocation".into(),
    ];
    for (host, port) in [(GOOD, good), (BAD, bad)] {
        args.push(format!("{host}:{port}"));
        args.push(resolve(host, port));
    }
    args.extend(lab.trust());
    let run = pinscope(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("2 targets: 1 pass, 1 intercepted"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 targets recorded"), "{}", run.stderr);
    assert!(file.exists());
    let from = pinscope([
        "baseline".to_string(),
        "save".into(),
        lab.scratch.path("b2.json").display().to_string(),
        format!("--from={}", s.jsonl.display()),
    ]);
    assert_eq!(from.code, 0, "{}", from.stderr);
    assert!(
        from.stderr.contains("1 targets recorded"),
        "{}",
        from.stderr
    );
}

#[test]
fn save_chains_writes_each_presented_chain_as_pem_that_inspect_reads() {
    let lab = Lab::new();
    let good = tls_server(&lab.public.leaf(&[GOOD], true));
    let bad = tls_server(&lab.inspection.leaf(&[BAD], true));
    let dir = lab.scratch.path("chains");
    for format in ["table", "jsonl"] {
        let mut args = vec![
            "audit".to_string(),
            "--no-revocation".into(),
            format!("--format={format}"),
            format!("--save-chains={}", dir.display()),
        ];
        for (host, port) in [(GOOD, good), (BAD, bad)] {
            args.push(format!("{host}:{port}"));
            args.push(resolve(host, port));
        }
        args.extend(lab.trust());
        let run = pinscope(&args);
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        let pem = std::fs::read_to_string(dir.join(format!("{BAD}_{bad}.pem"))).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(dir.join(format!("{GOOD}_{good}.pem")).exists());
        let mut again = vec![
            "inspect".to_string(),
            dir.join(format!("{BAD}_{bad}.pem")).display().to_string(),
            format!("--host={BAD}"),
            "--format=json".into(),
        ];
        again.extend(lab.trust());
        let inspected = pinscope(&again);
        assert_eq!(inspected.code, 1, "{}", inspected.stderr);
        assert_eq!(inspected.json()["targets"][0]["verdict"], "intercepted");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
