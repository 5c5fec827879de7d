//! The Markdown report (`--format markdown`): a document to paste into a ticket or hand to the team
//! that runs the proxy. It opens with the answer (counts and the exemptions to make), then a section
//! per problem host, then every target in a table.
//!
//! Everything that comes from the network (certificate names above all) is escaped: Markdown
//! punctuation is backslash-escaped, so a subject such as `</script><b>|` stays text and cannot
//! break a table, start a link or inject HTML into a renderer that allows it; control characters,
//! escape sequences and bidi overrides are shown escaped (`report::text::line`).

use std::fmt::Write as _;

use super::text::{line, markdown as escape};
use super::{RunReport, TargetResult, context_facts, section_of, severity, short_hash};

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn render(run: &RunReport) -> String {
    let digest = run.digest();
    let mut out = String::new();
    out.push_str("# pinscope report\n\n");

    // The answer.
    let total = digest.summary.total;
    let _ = writeln!(out, "## The answer\n");
    let mut lines = Vec::new();
    lines.push(if digest.intercepted == 0 {
        format!(
            "**No target is intercepted** ({} checked).",
            plural(total, "target", "targets")
        )
    } else {
        format!(
            "**{} of {total} intercepted**: something on this network re-signs {}, and Apple devices drop {}.",
            digest.intercepted,
            if digest.intercepted == 1 {
                "this connection"
            } else {
                "these connections"
            },
            if digest.intercepted == 1 { "it" } else { "them" },
        )
    });
    if digest.failed > 0 {
        lines.push(format!(
            "**{} failed** for another reason ({}).",
            plural(digest.failed, "target", "targets"),
            digest.failed_breakdown()
        ));
    }
    lines.push(format!("**{} fine** (pass).", digest.pass));
    if digest.skipped > 0 {
        lines.push(format!("{} not probed (skipped).", digest.skipped));
    }
    for l in &lines {
        let _ = writeln!(out, "- {l}");
    }
    out.push('\n');
    if !digest.exemptions.is_empty() {
        out.push_str("### Exempt from SSL inspection\n\n");
        for e in &digest.exemptions {
            let probed = if e.wildcard {
                format!(
                    " (the catalog wildcard; intercepted at {})",
                    e.targets
                        .iter()
                        .map(|t| escape(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            };
            let _ = writeln!(out, "- `{}`{probed}", code(&e.rule));
        }
        out.push('\n');
    }

    // A section per problem host.
    if !digest.problems.is_empty() {
        out.push_str("## Problem hosts\n\n");
        for r in &digest.problems {
            problem(&mut out, r);
        }
    }

    // Every target.
    out.push_str("## All targets\n\n");
    out.push_str("| target | verdict | section | detail |\n|---|---|---|---|\n");
    for r in &run.results {
        let a = &r.assessment;
        let detail = a.headline().map(|f| f.message.as_str()).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            escape(&r.observation.target.label()),
            a.verdict.as_str(),
            escape(section_of(&r.observation.target).unwrap_or("-")),
            escape(detail)
        );
    }
    let _ = writeln!(out, "\n{}\n\n## Run\n", escape(&digest.summary.line()));
    for (label, value) in context_facts(run) {
        let _ = writeln!(out, "- {}: {}", escape(label), escape(&value));
    }
    out.push_str(
        "\nThe full evidence (every certificate's hashes, TLS parameters, revocation) is in \
         `--format json`.\n",
    );
    out
}

/// Text inside a code span, on one line (controls shown escaped by [`line()`]): backticks cannot be
/// escaped there, so they are replaced.
fn code(text: &str) -> String {
    line(text).replace('`', " ")
}

fn problem(out: &mut String, r: &TargetResult) {
    let a = &r.assessment;
    let t = &r.observation.target;
    let _ = writeln!(out, "### {}: {}\n", escape(&t.label()), a.verdict.as_str());
    let mut facts = Vec::new();
    if let Some(s) = section_of(t) {
        facts.push(format!("section {}", escape(s)));
    }
    if let Some(p) = t.row.as_ref().and_then(|row| row.pattern.as_deref()) {
        facts.push(format!("stands for `{}`", code(p)));
    }
    if let Some(p) = &a.pinning {
        facts.push(format!("Apple pinning policy {}", escape(&p.policy)));
    }
    if !facts.is_empty() {
        let _ = writeln!(out, "{}\n", facts.join(" · "));
    }
    let _ = writeln!(out, "{}\n", escape(&a.explanation));

    if let Some(i) = &a.interception {
        let product = i.product.as_deref().map_or_else(
            || "not identified (no known product matches)".to_owned(),
            |p| format!("**{}**", escape(p)),
        );
        let evidence: Vec<String> = i
            .evidence
            .iter()
            .map(|c| format!("`{}`", c.as_str()))
            .collect();
        let _ = writeln!(out, "- Product: {product}");
        if let Some(anchor) = &i.anchor_subject {
            let _ = writeln!(out, "- Forged by the CA: {}", escape(anchor));
        }
        let _ = writeln!(out, "- Evidence: {}\n", evidence.join(", "));
    }

    if !a.chain.is_empty() {
        out.push_str(
            "Chain presented, leaf first (subject ← issuer; key: SPKI SHA-256, first 12 hex):\n\n",
        );
        for (n, c) in a.chain.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. {} ← {} · key `{}`",
                n + 1,
                escape(&c.subject),
                escape(&c.issuer),
                code(short_hash(&c.spki_sha256))
            );
        }
        if let Some(anchor) = &a.anchor {
            let key = a
                .anchor_spki_sha256
                .as_deref()
                .map(|k| format!(" · key `{}`", code(short_hash(k))))
                .unwrap_or_default();
            let _ = writeln!(out, "\nEnds at: {}{key}", escape(anchor));
        }
        out.push('\n');
    }

    if let Some(p) = &a.pinning {
        let _ = writeln!(
            out,
            "Apple pinning, policy {} ({}): {}\n",
            escape(&p.policy),
            escape(&p.source),
            if p.satisfied {
                "satisfied"
            } else {
                "**not satisfied**"
            }
        );
        for rule in p.rule_results.iter().filter(|r| !r.passed) {
            let _ = writeln!(out, "- rule {}", escape(&rule.rule));
            for check in &rule.failed_checks {
                let _ = writeln!(out, "  - fails: {}", escape(check));
            }
        }
        out.push('\n');
    }

    if !a.findings.is_empty() {
        out.push_str("Findings:\n\n");
        for f in &a.findings {
            let _ = writeln!(
                out,
                "- {} `{}`: {}",
                severity(f.severity),
                f.code.as_str(),
                escape(&f.message)
            );
        }
        out.push('\n');
    }
}
