//! The reports people hand on: `--format markdown`, `html`, `junit` and `jsonl`, run against lab TLS
//! servers. The HTML is loaded in headless Chromium, the JUnit XML is validated against the Jenkins
//! xUnit plugin's junit-10.xsd with xmllint; when those tools are missing the checks that need them
//! are skipped with the reason printed, unless PINSCOPE_REQUIRE_INTERCEPTORS=1 (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The inspection CA's common name: markup, quotes, table pipes and Markdown punctuation, as a
/// forger may choose it.
const HOSTILE: &str =
    "Corp \"Inspect\" </script><b>|bold|</b> & <img src=x onerror=alert(1)> [x](y) *CA*";

/// A run against five catalog rows in a lab section: one genuine, two intercepted (one of them a
/// representative of a wildcard), one refused, one skipped.
struct ReportLab {
    scratch: Scratch,
    args: Vec<String>,
    good: u16,
    pinned: u16,
    courier: u16,
    closed: u16,
}

impl ReportLab {
    fn new() -> Self {
        let public = Ca::root("Lab Public Root");
        let inspection = Ca::root(HOSTILE);
        let good = tls_server(&public.leaf(&["good.lab.example"], true));
        let pinned = tls_server(&inspection.leaf(&["gs.apple.com"], true));
        let courier = tls_server(&inspection.leaf(&["1-courier.push.lab.example"], true));
        let closed = closed_port();
        let scratch = Scratch::new();
        let entry = |host: &str, port: u16, transport: &str, extra: &str| {
            format!(
                "[[entry]]\nhosts = [\"{host}\"]\nports = [{port}]\ntransport = \"{transport}\"\n\
                 section = \"lab\"\nsource = \"apple-enterprise\"\ndescription = \"lab {host}\"\n{extra}\n"
            )
        };
        let catalog = format!(
            "version = 1\n[[section]]\nid = \"lab\"\ntitle = \"Lab hosts\"\n\n{}{}{}{}{}",
            entry("good.lab.example", good, "tcp", ""),
            entry("gs.apple.com", pinned, "tcp", ""),
            entry(
                "1-courier.push.lab.example",
                courier,
                "tcp",
                "pattern = \"*.push.lab.example\""
            ),
            entry("closed.lab.example", closed, "tcp", ""),
            entry("udp.lab.example", 9, "udp", ""),
        );
        let catalog = scratch.file("lab.toml", &catalog);
        let mut args = vec![
            "audit".to_string(),
            "--section=lab".into(),
            format!("--catalog={}", catalog.display()),
            "--timeout=3".into(),
            scratch.roots("public", &public.pem),
            scratch.roots("native", &inspection.pem),
        ];
        for port in [good, pinned, courier, closed, 9] {
            args.push(format!("--resolve=*:{port}:127.0.0.1"));
        }
        Self {
            scratch,
            args,
            good,
            pinned,
            courier,
            closed,
        }
    }

    fn labels(&self) -> Vec<String> {
        vec![
            format!("good.lab.example:{}", self.good),
            format!("gs.apple.com:{}", self.pinned),
            format!("1-courier.push.lab.example:{}", self.courier),
            format!("closed.lab.example:{}", self.closed),
            "udp.lab.example:9".to_string(),
        ]
    }

    /// Runs the audit with these extra flags.
    fn run(&self, extra: &[&str]) -> Run {
        let mut args = self.args.clone();
        args.extend(extra.iter().map(|s| s.to_string()));
        pinscope(&args)
    }
}

/// Set in CI: a missing xmllint or Chromium fails the test instead of skipping it.
const REQUIRE: &str = "PINSCOPE_REQUIRE_INTERCEPTORS";

/// `|` characters that are not backslash-escaped.
fn bare_pipes(line: &str) -> usize {
    let mut n = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => n += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    n
}

#[test]
fn markdown_opens_with_the_answer_then_problem_hosts_then_every_target() {
    let lab = ReportLab::new();
    let run = lab.run(&["--format=markdown"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let md = &run.stdout;

    // The answer comes first.
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(
        headings,
        [
            "## The answer",
            "## Problem hosts",
            "## All targets",
            "## Run"
        ],
        "{md}"
    );
    // The run states when, from where, by which route and against which stores and data.
    let context = &md[md.find("## Run").unwrap()..];
    for fact in [
        "- Run: Started ",
        "- From: ",
        "- Route: direct (no proxy)",
        "- Trust stores: apple\\_devices: Apple's trust store (version ",
        "- Data: Apple trust store ",
        "- pinscope: ",
    ] {
        assert!(context.contains(fact), "{fact} missing from {context}");
    }
    assert!(context.contains("(127.0.0.1)"), "{context}");
    let when = context.lines().find(|l| l.starts_with("- Run: ")).unwrap();
    assert!(
        when.contains(" UTC, took ") && when.ends_with(" s"),
        "times are for people: {when}"
    );
    let answer = &md[md.find("## The answer").unwrap()..md.find("## Problem hosts").unwrap()];
    assert!(answer.contains("**2 of 5 intercepted**"), "{answer}");
    assert!(
        answer.contains("**1 target failed** for another reason (1 blocked)"),
        "{answer}"
    );
    assert!(answer.contains("**1 fine** (pass)"), "{answer}");
    assert!(answer.contains("1 not probed (skipped)"), "{answer}");
    // Exemptions: the host:port, and the wildcard a representative stands for.
    assert!(
        answer.contains(&format!("- `gs.apple.com:{}`", lab.pinned)),
        "{answer}"
    );
    assert!(
        answer.contains(&format!(
            "- `*.push.lab.example:{}` (the catalog wildcard; intercepted at 1-courier.push.lab.example:{})",
            lab.courier, lab.courier
        )),
        "{answer}"
    );
    assert!(!answer.contains(&format!("`1-courier.push.lab.example:{}`", lab.courier)));

    // A section per problem host, intercepted first.
    let problems = &md[md.find("## Problem hosts").unwrap()..md.find("## All targets").unwrap()];
    let sections: Vec<&str> = problems.lines().filter(|l| l.starts_with("### ")).collect();
    assert_eq!(
        sections,
        [
            format!("### gs.apple.com:{}: intercepted", lab.pinned),
            format!(
                "### 1-courier.push.lab.example:{}: intercepted",
                lab.courier
            ),
            format!("### closed.lab.example:{}: blocked", lab.closed),
        ],
        "{problems}"
    );
    let gs = &problems[..problems.find("### 1-courier").unwrap()];
    // The chain as a list, subject ← issuer, keys shortened to 12 hex characters.
    let chain: Vec<&str> = gs
        .lines()
        .filter(|l| l.starts_with("1. ") || l.starts_with("2. "))
        .collect();
    assert_eq!(chain.len(), 2, "{gs}");
    for line in &chain {
        assert!(line.contains(" ← "), "{line}");
        let key = line.rsplit("key `").next().unwrap().trim_end_matches('`');
        assert_eq!(key.len(), 12, "{line}");
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
    }
    assert!(chain[0].starts_with("1. CN=gs.apple.com"), "{gs}");
    // Apple's rule checks the forgery fails, and the explanation.
    assert!(gs.contains("Apple pinning, policy Personalization"), "{gs}");
    assert!(gs.contains("  - fails: anchor: "), "{gs}");
    assert!(gs.contains("Exempt gs.apple.com:"), "{gs}");
    assert!(gs.contains("- Product: "), "{gs}");
    assert!(gs.contains("`anchor_native_only`"), "{gs}");

    // Every target in the table, each row with exactly five unescaped pipes.
    let table = &md[md.find("## All targets").unwrap()..md.find("## Run").unwrap()];
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 1 + lab.labels().len(), "{table}");
    for label in lab.labels() {
        assert!(
            rows.iter().any(|r| r.starts_with(&format!("| {label} |"))),
            "{label} missing from {table}"
        );
    }
    for line in md.lines().filter(|l| l.starts_with('|')) {
        assert_eq!(bare_pipes(line), 5, "a cell breaks the table: {line}");
    }

    // The hostile CA name stays text.
    assert!(!md.contains("</script>"), "{md}");
    // Every occurrence of the name is escaped as a whole.
    let escaped = r#"Corp "Inspect" \</script\>\<b\>\|bold\|\</b\> \& \<img src=x onerror=alert(1)\> \[x\](y) \*CA\*"#;
    let raw = md.matches("Corp \"Inspect\" ").count();
    assert!(raw >= 5, "{md}");
    assert_eq!(md.matches(escaped).count(), raw, "{md}");
}

#[test]
fn html_is_self_contained_escaped_and_renders_in_chromium() {
    let lab = ReportLab::new();
    let file = lab.scratch.path("report.html");
    let run = lab.run(&["--format=html", &format!("--output={}", file.display())]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let html = std::fs::read_to_string(&file).unwrap();

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("@media print"));
    assert!(html.contains("Content-Security-Policy"));
    // No scripts and nothing loaded from anywhere.
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("<link") && !html.contains("src=\"") && !html.contains("url("));
    for (i, _) in html.match_indices("href=\"") {
        assert!(html[i + 6..].starts_with('#'), "external link at {i}");
    }
    // The answer opens the body.
    let answer = html.find("id=\"answer\"").unwrap();
    let problems = html.find("id=\"problems\"").unwrap();
    let all = html.find("id=\"all\"").unwrap();
    assert!(answer < problems && problems < all);
    assert!(html[answer..problems].contains(&format!("<code>gs.apple.com:{}</code>", lab.pinned)));
    assert!(
        html[answer..problems]
            .contains(&format!("<code>*.push.lab.example:{}</code>", lab.courier))
    );
    // The hostile name is escaped wherever it appears.
    assert!(!html.contains("<b>|") && !html.contains("<img"), "{html}");
    assert!(html.contains("&lt;/script&gt;&lt;b&gt;|bold|&lt;/b&gt; &amp; &lt;img src=x"));
    assert!(html.contains("&quot;Inspect&quot;"));

    let Some(chromium) = require_tool("chromium", REQUIRE) else {
        return;
    };
    let profile = lab.scratch.path("chromium-profile");
    let pdf = lab.scratch.path("report.pdf");
    let url = format!("file://{}", file.display());
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let out = run_with_deadline(
        Command::new(&chromium)
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--dump-dom")
            .arg(&url),
        Duration::from_secs(120),
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    // Every console message (a script error, a resource the policy blocked) is logged as CONSOLE.
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(dom.contains("The answer"), "{dom}");
    for label in lab.labels() {
        assert!(
            dom.contains(&label),
            "{label} missing from the rendered page"
        );
    }
    // Parsed as text, not markup: the DOM has no <b> or <img> element.
    assert!(!dom.contains("<b>") && !dom.contains("<img"), "{dom}");
    assert!(dom.contains("&lt;/script&gt;&lt;b&gt;|bold|&lt;/b&gt;"));

    // And it prints.
    let out = run_with_deadline(
        Command::new(&chromium)
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--no-pdf-header-footer")
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg(&url),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF") && bytes.len() > 1000);
}

fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let start = tag
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + name.len()
        + 3;
    &tag[start..start + tag[start..].find('"').unwrap()]
}

fn first_tag<'a>(xml: &'a str, element: &str) -> &'a str {
    let start = xml.find(&format!("<{element} ")).unwrap();
    &xml[start..start + xml[start..].find('>').unwrap()]
}

fn xmllint(schema_for: &Path) -> Option<std::process::Output> {
    let xmllint = require_tool("xmllint", REQUIRE)?;
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit-10.xsd");
    Some(run_with_deadline(
        Command::new(xmllint)
            .arg("--noout")
            .arg("--schema")
            .arg(xsd)
            .arg(schema_for),
        Duration::from_secs(60),
    ))
}

#[test]
fn junit_has_a_testcase_per_target_and_validates_against_the_xsd() {
    let lab = ReportLab::new();
    let file = lab.scratch.path("junit.xml");
    let run = lab.run(&["--format=junit", &format!("-o={}", file.display())]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let xml = std::fs::read_to_string(&file).unwrap();

    let suite = first_tag(&xml, "testsuite");
    assert_eq!(attr(suite, "tests"), "5", "{suite}");
    assert_eq!(attr(suite, "failures"), "3", "{suite}");
    assert_eq!(attr(suite, "errors"), "0", "{suite}");
    assert_eq!(attr(suite, "skipped"), "1", "{suite}");
    assert_eq!(xml.matches("<testcase ").count(), 5);
    assert_eq!(xml.matches("<failure ").count(), 3);
    assert_eq!(xml.matches("<skipped ").count(), 1);
    for label in lab.labels() {
        assert!(
            xml.contains(&format!("<testcase classname=\"lab\" name=\"{label}\"")),
            "{label}: {xml}"
        );
    }
    // The failure's message is the explanation; its body lists the findings.
    let gs = &xml[xml
        .find(&format!("name=\"gs.apple.com:{}\"", lab.pinned))
        .unwrap()..];
    let failure = first_tag(gs, "failure");
    assert_eq!(attr(failure, "type"), "intercepted");
    assert!(
        attr(failure, "message").starts_with("Apple devices pin gs.apple.com"),
        "{failure}"
    );
    let body = &gs[gs.find('>').unwrap()..gs.find("</failure>").unwrap()];
    assert!(body.contains("error anchor_native_only: "), "{body}");
    assert!(body.contains("error pinning_failed: "), "{body}");
    // The hostile name is escaped in attributes and text alike.
    assert!(!xml.contains("<b>") && !xml.contains("<img"));
    assert!(xml.contains("&lt;/script&gt;&lt;b&gt;|bold|&lt;/b&gt; &amp;"));

    // A target outside the catalog is in class "targets".
    let closed = closed_port();
    let other_file = lab.scratch.path("other.xml");
    let other = pinscope([
        "audit".to_string(),
        format!("closed.lab.example:{closed}"),
        resolve("closed.lab.example", closed),
        "--format=junit".into(),
        format!("--output={}", other_file.display()),
    ]);
    assert_eq!(other.code, 3, "{}", other.stderr);
    let other_xml = std::fs::read_to_string(&other_file).unwrap();
    assert!(
        other_xml.contains(&format!(
            "<testcase classname=\"targets\" name=\"closed.lab.example:{closed}\""
        )),
        "{other_xml}"
    );
    assert!(other_xml.contains("<failure type=\"blocked\""));

    for f in [&file, &other_file] {
        let Some(out) = xmllint(f) else {
            return;
        };
        assert!(
            out.status.success(),
            "{} does not validate against junit-10.xsd: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn without_elapsed(mut v: serde_json::Value) -> serde_json::Value {
    v.as_object_mut().unwrap().remove("elapsed_ms");
    v
}

#[test]
fn jsonl_lines_are_the_json_targets_then_a_summary() {
    let lab = ReportLab::new();
    let json = lab.run(&["--format=json"]).json();
    let run = lab.run(&["--format=jsonl"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let (trailer, targets) = lines.split_last().unwrap();
    assert_eq!(trailer["summary"], json["summary"], "{trailer:#}");
    assert_eq!(trailer["schema_version"], json["schema_version"]);
    assert_eq!(trailer["tool"], "pinscope");
    assert_eq!(trailer["revocation_checked"], true);
    assert!(trailer["started_at"].is_string() && trailer["finished_at"].is_string());
    assert!(targets.iter().all(|t| t.get("summary").is_none()));

    // The same objects as --format json's targets (only the timing differs between runs).
    let key = |t: &serde_json::Value| format!("{}:{}", t["host"], t["port"]);
    let mut streamed: Vec<_> = targets.iter().cloned().map(without_elapsed).collect();
    let mut documented: Vec<_> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(without_elapsed)
        .collect();
    streamed.sort_by_key(key);
    documented.sort_by_key(key);
    assert_eq!(streamed, documented);

    let no_revocation = lab.run(&["--format=jsonl", "--no-revocation"]);
    let last = no_revocation.stdout.lines().last().unwrap();
    let last: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(last["revocation_checked"], false);
}

#[test]
fn jsonl_lines_carry_the_revocation_results_json_has() {
    let root = Ca::root("Lab Public Root");
    let crl_port = closed_port();
    let url = format!("http://127.0.0.1:{crl_port}/lab.crl");
    let leaf = root.leaf_with(
        &["crl.lab.example"],
        vec![crl_distribution_point(&url)],
        vec![&root],
    );
    let port = tls_server(&leaf);
    let scratch = Scratch::new();
    let args = |format: &str, extra: &[&str]| {
        let mut a = vec![
            "audit".to_string(),
            format!("crl.lab.example:{port}"),
            resolve("crl.lab.example", port),
            scratch.roots("public", &root.pem),
            format!("--format={format}"),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let json = pinscope(args("json", &[])).json();
    let run = pinscope(args("jsonl", &[]));
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    let documented = without_elapsed(json["targets"][0].clone());
    assert!(
        documented["revocation"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "the lab leaf names a CRL, so the JSON reports its fetch: {documented:#}"
    );
    assert_eq!(without_elapsed(lines[0].clone()), documented);
    assert_eq!(lines[1]["revocation_checked"], true);

    let run = pinscope(args("jsonl", &["--no-revocation"]));
    let first: serde_json::Value =
        serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["revocation"], serde_json::json!([]));
}

#[test]
fn jsonl_writes_each_target_as_soon_as_it_is_done() {
    let root = Ca::root("Lab Public Root");
    let fast = tls_server(&root.leaf(&["fast.lab.example"], true));
    let slow = silent_listener();
    let scratch = Scratch::new();
    let started = Instant::now();
    let mut child = pinscope_command()
        .args([
            "audit".to_string(),
            format!("slow.lab.example:{slow}"),
            format!("fast.lab.example:{fast}"),
            resolve("slow.lab.example", slow),
            resolve("fast.lab.example", fast),
            "--timeout=3".into(),
            scratch.roots("public", &root.pem),
            "--format=jsonl".into(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut arrivals = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        arrivals.push((started.elapsed(), line));
    }
    let status = child.wait().unwrap();
    let ended = started.elapsed();
    assert_eq!(status.code(), Some(3));
    assert_eq!(arrivals.len(), 3, "{arrivals:#?}");
    let first: serde_json::Value = serde_json::from_str(&arrivals[0].1).unwrap();
    let second: serde_json::Value = serde_json::from_str(&arrivals[1].1).unwrap();
    assert_eq!(first["host"], "fast.lab.example");
    assert_eq!(first["verdict"], "pass");
    assert_eq!(second["host"], "slow.lab.example");
    assert_eq!(second["verdict"], "timeout");
    // The fast target's line was out well before the slow target's 3 s deadline ran out.
    assert!(
        arrivals[0].0 + Duration::from_millis(1500) < arrivals[1].0,
        "fast line at {:?}, slow line at {:?}",
        arrivals[0].0,
        arrivals[1].0
    );
    assert!(
        arrivals[1].0 >= Duration::from_millis(2900),
        "{:?}",
        arrivals[1].0
    );
    assert!(ended >= arrivals[1].0);
}

#[test]
fn stderr_stays_quiet_off_a_terminal_and_v_prints_timings() {
    let root = Ca::root("Lab Public Root");
    let port = tls_server(&root.leaf(&["fast.lab.example"], true));
    let scratch = Scratch::new();
    let base = vec![
        "audit".to_string(),
        format!("fast.lab.example:{port}"),
        resolve("fast.lab.example", port),
        scratch.roots("public", &root.pem),
        "--format=json".into(),
    ];
    // No progress bar when standard error is not a terminal (here a pipe).
    let quiet = pinscope(&base);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!(quiet.stderr, "");

    let mut verbose = base.clone();
    verbose.push("-v".into());
    let run = pinscope(&verbose);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with(&format!("pinscope: fast.lab.example:{port}: ")))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    for phase in ["resolve ", "connect ", "handshake ", "total "] {
        assert!(line.contains(phase), "{line}");
    }
    assert!(line.ends_with("handshake completed"), "{line}");
    assert!(
        run.stderr
            .contains("pinscope: timings: 1 target probed in "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("summed over targets: resolve "),
        "{}",
        run.stderr
    );
    // The report itself is unchanged.
    assert_eq!(run.json()["targets"][0]["verdict"], "pass");

    let mut both = base;
    both.extend(["--quiet".into(), "-v".into()]);
    let run = pinscope(&both);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("pinscope: error: "),
        "{}",
        run.stderr
    );
}

#[test]
fn completions_and_man_pages() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = pinscope(["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("pinscope"), "{shell}");
        assert!(run.stdout.contains("audit"), "{shell}");
    }
    let bash = pinscope(["completions", "bash"]).stdout;
    assert!(bash.contains("--format"));
    assert!(bash.contains("markdown") && bash.contains("jsonl"));

    let man = pinscope(["man"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(man.stdout.contains(".TH pinscope 1"), "{}", man.stdout);
    assert!(man.stdout.contains("pinscope\\-audit(1)"));
    let audit = pinscope(["man", "audit"]);
    assert!(
        audit.stdout.contains(".TH pinscope-audit 1"),
        "{}",
        audit.stdout
    );
    assert!(audit.stdout.contains("\\-\\-format"));
    let bad = pinscope(["man", "nope"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("no such command"), "{}", bad.stderr);
}

#[test]
fn catalog_refuses_report_formats() {
    let run = pinscope(["catalog", "--format=html"]);
    assert_eq!(run.code, 2);
    // `catalog --help` offers only table and json, and clap refuses the rest with that list.
    assert!(
        run.stderr
            .starts_with("pinscope: error: invalid value 'html' for '--format")
            && run.stderr.contains("table, json"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}
