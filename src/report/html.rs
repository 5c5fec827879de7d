//! The HTML report (`--format html`): the Markdown report's content as one self-contained file, to
//! open offline, mail, attach to a ticket or print. No scripts, no external assets: the CSS is
//! inline, and a Content-Security-Policy forbids loading anything at all.
//!
//! Every piece of text is escaped, markup characters and quotes alike: certificate subjects are
//! chosen by whoever made the certificate, including whoever forged it.

use std::fmt::Write as _;

use super::text::html as escape;
use super::{RunReport, TargetResult, context_facts, section_of, severity, short_hash};
use crate::analysis::Verdict;

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5f6368; --line: #d8d8dc; --bg-soft: #f5f5f7; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); background: #fff; margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 0 0 .5rem; overflow-wrap: anywhere; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
.answer { background: var(--bg-soft); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; }
.answer ul { margin: .25rem 0 .5rem; padding-left: 1.25rem; }
.answer h2 { border: 0; margin: .75rem 0 .25rem; font-size: 1.05rem; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0 0 .75rem; padding: 0; list-style: none; }
.counts li { border: 1px solid var(--line); border-radius: 6px; padding: .35rem .75rem; background: #fff; }
.counts strong { font-size: 1.2rem; margin-right: .3rem; }
.v { display: inline-block; border-radius: 4px; padding: 0 .4rem; font-size: .85em; font-weight: 600;
     white-space: nowrap; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.v-pass { background: #e3f4e6; color: #14632a; }
.v-intercepted { background: #b3261e; color: #fff; }
.v-untrusted { background: #fff1cc; color: #7a4b00; }
.v-blocked, .v-timeout, .v-dns_error, .v-tls_error, .v-proxy_error, .v-protocol_error { background: #f1e3f7; color: #5b2371; }
.v-skipped { background: #ececef; color: var(--muted); }
article.problem { border: 1px solid var(--line); border-left: 6px solid #8e8e93; border-radius: 6px;
                  padding: .9rem 1.1rem; margin: 0 0 1rem; }
article.problem.intercepted { border-left-color: #b3261e; }
article.problem.untrusted { border-left-color: #c98a00; }
.facts { color: var(--muted); margin: 0 0 .5rem; }
.explanation { margin: .25rem 0 .75rem; }
ol.chain { padding-left: 1.5rem; margin: .25rem 0 .5rem; }
ol.chain li { overflow-wrap: anywhere; margin: .15rem 0; }
.arrow { color: var(--muted); padding: 0 .3rem; }
.key { color: var(--muted); white-space: nowrap; }
.label { font-weight: 600; margin: .6rem 0 .2rem; }
ul.checks, ul.findings { margin: .2rem 0 .5rem; padding-left: 1.25rem; }
ul.checks li, ul.findings li { overflow-wrap: anywhere; }
.sev-error { color: #b3261e; font-weight: 600; }
.sev-warning { color: #7a4b00; font-weight: 600; }
.sev-info { color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: .92em; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--bg-soft); }
td { overflow-wrap: anywhere; }
td.target, td.section { white-space: nowrap; }
footer { color: var(--muted); margin-top: 2rem; font-size: .9em; }
footer dl.context { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
footer dl.context dd { margin: 0; overflow-wrap: anywhere; }
@media print {
  @page { margin: 1.5cm; }
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  h2, h3 { break-after: avoid; }
  article.problem, .answer { break-inside: avoid; }
  ol.chain, ul.checks { break-inside: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  td.target, td.section { white-space: normal; }
}
"#;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn badge(v: Verdict) -> String {
    format!(r#"<span class="v v-{0}">{0}</span>"#, v.as_str())
}

pub fn render(run: &RunReport) -> String {
    let digest = run.digest();
    let total = digest.summary.total;
    let title = if digest.intercepted == 0 {
        format!(
            "pinscope report: no interception ({})",
            plural(total, "target", "targets")
        )
    } else {
        format!(
            "pinscope report: {} of {total} intercepted",
            digest.intercepted
        )
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"pinscope {}\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>pinscope report</h1>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&title)
    );

    // The answer.
    out.push_str(
        "<section class=\"answer\" id=\"answer\">\n<h2>The answer</h2>\n<ul class=\"counts\">\n",
    );
    let mut count = |n: usize, what: &str, class: &str| {
        let _ = writeln!(
            out,
            "<li class=\"{class}\"><strong>{n}</strong>{}</li>",
            escape(what)
        );
    };
    count(digest.intercepted, "intercepted", "c-intercepted");
    let failed = if digest.failed == 0 {
        "failed otherwise".to_owned()
    } else {
        format!("failed otherwise ({})", digest.failed_breakdown())
    };
    count(digest.failed, &failed, "c-failed");
    count(digest.pass, "fine (pass)", "c-pass");
    if digest.skipped > 0 {
        count(digest.skipped, "not probed (skipped)", "c-skipped");
    }
    out.push_str("</ul>\n");
    let _ = writeln!(
        out,
        "<p>{}</p>",
        if digest.intercepted == 0 {
            format!(
                "<strong>No target is intercepted</strong> ({} checked).",
                plural(total, "target", "targets")
            )
        } else {
            format!(
                "<strong>{} of {total} intercepted</strong>: something on this network re-signs {}, and Apple devices drop {}.",
                digest.intercepted,
                if digest.intercepted == 1 {
                    "this connection"
                } else {
                    "these connections"
                },
                if digest.intercepted == 1 {
                    "it"
                } else {
                    "them"
                },
            )
        }
    );
    if !digest.exemptions.is_empty() {
        out.push_str("<h2>Exempt from SSL inspection</h2>\n<ul class=\"exemptions\">\n");
        for e in &digest.exemptions {
            let probed = if e.wildcard {
                format!(
                    " (the catalog wildcard; intercepted at {})",
                    escape(&e.targets.join(", "))
                )
            } else {
                String::new()
            };
            let _ = writeln!(out, "<li><code>{}</code>{probed}</li>", escape(&e.rule));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");

    // A section per problem host.
    let anchors: Vec<Option<usize>> = run
        .results
        .iter()
        .map(|r| digest.problems.iter().position(|p| std::ptr::eq(*p, r)))
        .collect();
    if !digest.problems.is_empty() {
        out.push_str("<section id=\"problems\">\n<h2>Problem hosts</h2>\n");
        for (i, r) in digest.problems.iter().enumerate() {
            problem(&mut out, r, i);
        }
        out.push_str("</section>\n");
    }

    // Every target.
    out.push_str(
        "<section id=\"all\">\n<h2>All targets</h2>\n<table>\n<thead><tr><th>target</th><th>verdict</th>\
         <th>section</th><th>detail</th></tr></thead>\n<tbody>\n",
    );
    for (r, anchor) in run.results.iter().zip(&anchors) {
        let a = &r.assessment;
        let label = escape(&r.observation.target.label());
        let label = match anchor {
            Some(i) => format!("<a href=\"#p{i}\">{label}</a>"),
            None => label,
        };
        let detail = a.headline().map(|f| f.message.as_str()).unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td class=\"target mono\">{label}</td><td>{}</td><td class=\"section\">{}</td><td>{}</td></tr>",
            badge(a.verdict),
            escape(section_of(&r.observation.target).unwrap_or("-")),
            escape(detail)
        );
    }
    let _ = write!(
        out,
        "</tbody>\n</table>\n<p>{}</p>\n</section>\n<footer>\n<dl class=\"context\">\n",
        escape(&digest.summary.line()),
    );
    for (label, value) in context_facts(run) {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(&value));
    }
    out.push_str(
        "</dl>\n<p>The full evidence (every certificate's hashes, TLS parameters, revocation) is in \
         <code>--format json</code>.</p>\n</footer>\n</main>\n</body>\n</html>\n",
    );
    out
}

fn problem(out: &mut String, r: &TargetResult, index: usize) {
    let a = &r.assessment;
    let t = &r.observation.target;
    let _ = writeln!(
        out,
        "<article class=\"problem {}\" id=\"p{index}\">\n<h3><span class=\"mono\">{}</span> {}</h3>",
        a.verdict.as_str(),
        escape(&t.label()),
        badge(a.verdict)
    );
    let mut facts = Vec::new();
    if let Some(s) = section_of(t) {
        facts.push(format!("section {}", escape(s)));
    }
    if let Some(p) = t.row.as_ref().and_then(|row| row.pattern.as_deref()) {
        facts.push(format!("stands for <code>{}</code>", escape(p)));
    }
    if let Some(p) = &a.pinning {
        facts.push(format!("Apple pinning policy {}", escape(&p.policy)));
    }
    if !facts.is_empty() {
        let _ = writeln!(out, "<p class=\"facts\">{}</p>", facts.join(" · "));
    }
    let _ = writeln!(
        out,
        "<p class=\"explanation\">{}</p>",
        escape(&a.explanation)
    );

    if let Some(i) = &a.interception {
        let product = i.product.as_deref().map_or_else(
            || "not identified (no known product matches)".to_owned(),
            |p| format!("<strong>{}</strong>", escape(p)),
        );
        let evidence: Vec<String> = i
            .evidence
            .iter()
            .map(|c| format!("<code>{}</code>", c.as_str()))
            .collect();
        out.push_str("<ul class=\"interception\">\n");
        let _ = writeln!(out, "<li>Product: {product}</li>");
        if let Some(anchor) = &i.anchor_subject {
            let _ = writeln!(out, "<li>Forged by the CA: {}</li>", escape(anchor));
        }
        let _ = writeln!(out, "<li>Evidence: {}</li>\n</ul>", evidence.join(", "));
    }

    if !a.chain.is_empty() {
        out.push_str(
            "<p class=\"label\">Chain presented, leaf first (subject ← issuer; key: SPKI SHA-256, first 12 hex)</p>\n<ol class=\"chain\">\n",
        );
        for c in &a.chain {
            let _ = writeln!(
                out,
                "<li><span class=\"subject\">{}</span><span class=\"arrow\">←</span><span class=\"issuer\">{}</span> \
                 <span class=\"key\">key <code>{}</code></span></li>",
                escape(&c.subject),
                escape(&c.issuer),
                escape(short_hash(&c.spki_sha256))
            );
        }
        out.push_str("</ol>\n");
        if let Some(anchor) = &a.anchor {
            let key = a
                .anchor_spki_sha256
                .as_deref()
                .map(|k| {
                    format!(
                        " <span class=\"key\">key <code>{}</code></span>",
                        escape(short_hash(k))
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(out, "<p>Ends at: {}{key}</p>", escape(anchor));
        }
    }

    if let Some(p) = &a.pinning {
        let _ = writeln!(
            out,
            "<p class=\"label\">Apple pinning, policy {} ({}): {}</p>",
            escape(&p.policy),
            escape(&p.source),
            if p.satisfied {
                "satisfied"
            } else {
                "<strong>not satisfied</strong>"
            }
        );
        let failed: Vec<_> = p.rule_results.iter().filter(|r| !r.passed).collect();
        if !failed.is_empty() {
            out.push_str("<ul class=\"checks\">\n");
            for rule in failed {
                let _ = writeln!(out, "<li>rule {}<ul>", escape(&rule.rule));
                for check in &rule.failed_checks {
                    let _ = writeln!(out, "<li>fails: {}</li>", escape(check));
                }
                out.push_str("</ul></li>\n");
            }
            out.push_str("</ul>\n");
        }
    }

    if !a.findings.is_empty() {
        out.push_str("<p class=\"label\">Findings</p>\n<ul class=\"findings\">\n");
        for f in &a.findings {
            let sev = severity(f.severity);
            let _ = writeln!(
                out,
                "<li><span class=\"sev-{sev}\">{sev}</span> <code>{}</code>: {}</li>",
                f.code.as_str(),
                escape(&f.message)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</article>\n");
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_footer_states_the_run_context_escaped() {
        let mut run = crate::report::sample::run();
        let page = super::render(&run);
        assert!(page.contains("<dt>Route</dt><dd>through the proxy http://***@proxy.example:3128 (from HTTPS_PROXY)</dd>"), "{page}");
        assert!(
            page.contains("<dt>From</dt><dd>lab-mac\\x1b]0;pwned\\x07 (192.0.2.10)</dd>"),
            "{page}"
        );
        assert!(page.contains("<dt>Run</dt><dd>Started 2027-01-01 00:00:00 UTC, took 1.0 s</dd>"));
        assert!(!page.contains('\u{1b}'));
        // A report saved before the context existed still names its targets' proxy.
        run.context = Default::default();
        run.results[0].observation.proxy = Some("http://proxy.example:3128".into());
        assert!(super::render(&run).contains("through the proxy http://proxy.example:3128</dd>"));
    }
}
