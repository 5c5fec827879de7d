//! JUnit XML (`--format junit`), for CI systems that chart test results: one `<testcase>` per
//! target, named `host:port`, with the catalog section as its class. A target that passes is a
//! passing test; a skipped one is `<skipped>`; every other verdict is a `<failure>` whose `message`
//! is the explanation and whose body lists the findings. The shape follows the Jenkins xUnit
//! plugin's `junit-10.xsd`, which `tests/reports.rs` validates the output against. Certificate and
//! server text goes through `report::text::xml`: control characters and bidi overrides are shown
//! escaped (`\x1b`, `\u{202e}`), markup characters as entities.

use std::fmt::Write as _;

use super::text::xml as escape;
use super::{RunReport, context_facts, section_of, severity};
use crate::analysis::Verdict;

fn secs(ms: u128) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Seconds between two RFC 3339 instants, when both parse.
fn run_seconds(run: &RunReport) -> Option<String> {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let start = OffsetDateTime::parse(&run.started_at, &Rfc3339).ok()?;
    let end = OffsetDateTime::parse(&run.finished_at, &Rfc3339).ok()?;
    let ms = u128::try_from((end - start).whole_milliseconds()).ok()?;
    Some(secs(ms))
}

pub fn render(run: &RunReport) -> String {
    let summary = run.summary();
    let skipped = summary.count(Verdict::Skipped);
    let failures = summary.total - skipped - summary.count(Verdict::Pass);
    let time = run_seconds(run).unwrap_or_else(|| "0.000".into());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"pinscope\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{time}\">",
        summary.total
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"pinscope audit\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\" time=\"{time}\" timestamp=\"{}\">",
        summary.total,
        escape(&run.started_at)
    );
    out.push_str("    <properties>\n");
    for (name, value) in [
        ("pinscope.version", env!("CARGO_PKG_VERSION")),
        ("started_at", run.started_at.as_str()),
        ("finished_at", run.finished_at.as_str()),
        ("summary", &summary.line()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain(
        context_facts(run)
            .into_iter()
            .map(|(k, v)| (format!("context.{}", k.to_lowercase().replace(' ', "_")), v)),
    ) {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            escape(&name),
            escape(&value)
        );
    }
    out.push_str("    </properties>\n");
    for r in &run.results {
        let a = &r.assessment;
        let t = &r.observation.target;
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            escape(section_of(t).unwrap_or("targets")),
            escape(&t.label()),
            secs(r.observation.elapsed.as_millis())
        );
        match a.verdict {
            Verdict::Pass => out.push_str("/>\n"),
            Verdict::Skipped => {
                let reason = a
                    .findings
                    .first()
                    .map_or(a.explanation.as_str(), |f| f.message.as_str());
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(reason)
                );
            }
            v => {
                let mut body = String::new();
                for f in &a.findings {
                    let _ = writeln!(
                        body,
                        "{} {}: {}",
                        severity(f.severity),
                        f.code.as_str(),
                        f.message
                    );
                }
                if let Some(product) = a.interception.as_ref().and_then(|i| i.product.as_deref()) {
                    let _ = writeln!(body, "product: {product}");
                }
                let _ = writeln!(
                    out,
                    ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                    v.as_str(),
                    escape(&a.explanation),
                    body_escape(&body)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Element content keeps its line breaks as they are.
fn body_escape(text: &str) -> String {
    escape(text).replace("&#10;", "\n").replace("&#9;", "\t")
}
