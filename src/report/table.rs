//! The default, human-readable view: one line per target, a summary line, and what to do about each
//! intercepted target.

use super::RunReport;
use crate::analysis::Verdict;
use crate::catalog::Row;

/// ANSI styling, applied only when the caller says colour is wanted.
struct Paint {
    on: bool,
}

impl Paint {
    fn verdict(&self, v: Verdict, text: &str) -> String {
        if !self.on {
            return text.to_owned();
        }
        let code = match v {
            Verdict::Pass => "32",
            Verdict::Intercepted => "1;31",
            Verdict::Untrusted => "33",
            Verdict::Blocked
            | Verdict::Timeout
            | Verdict::DnsError
            | Verdict::TlsError
            | Verdict::ProxyError
            | Verdict::ProtocolError => "35",
            Verdict::Skipped => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn bold(&self, text: &str) -> String {
        if self.on {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Pads to a width counted in characters (host names and CA names can be non-ASCII).
fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(len)))
}

pub fn render(run: &RunReport, color: bool) -> String {
    let paint = Paint { on: color };
    let rows: Vec<[String; 4]> = run
        .results
        .iter()
        .map(|r| {
            let a = &r.assessment;
            let detail = a.headline().map(|f| f.message.clone()).unwrap_or_default();
            [
                r.observation.target.label(),
                a.verdict.as_str().to_owned(),
                r.observation.target.section().to_owned(),
                detail,
            ]
        })
        .collect();
    let headers = ["TARGET", "VERDICT", "SECTION", "DETAIL"];
    let widths: Vec<usize> = (0..3)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut out = String::new();
    let header = format!(
        "{}  {}  {}  {}",
        pad(headers[0], widths[0]),
        pad(headers[1], widths[1]),
        pad(headers[2], widths[2]),
        headers[3]
    );
    out.push_str(&paint.bold(&header));
    out.push('\n');
    for (row, result) in rows.iter().zip(&run.results) {
        let verdict = result.assessment.verdict;
        out.push_str(&format!(
            "{}  {}  {}  {}\n",
            pad(&row[0], widths[0]),
            paint.verdict(verdict, &pad(&row[1], widths[1])),
            pad(&row[2], widths[2]),
            row[3]
        ));
    }

    let intercepted: Vec<_> = run
        .results
        .iter()
        .filter(|r| r.assessment.verdict == Verdict::Intercepted)
        .collect();
    if !intercepted.is_empty() {
        out.push('\n');
        out.push_str(&paint.bold("What to do"));
        out.push('\n');
        for r in intercepted {
            out.push_str(&format!("- {}\n", r.assessment.explanation));
        }
    }
    out.push('\n');
    out.push_str(&run.summary().line());
    out.push('\n');
    out
}

/// The catalog as a table.
pub fn render_catalog(rows: &[&Row]) -> String {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let mut flags = Vec::new();
            if r.legacy {
                flags.push("legacy".to_owned());
            }
            if r.is_unresolved_pattern() {
                flags.push("no concrete name known".to_owned());
            } else if let Some(p) = &r.pattern {
                flags.push(format!("stands for {p}"));
            }
            [
                format!("{}:{}", r.host, r.port),
                r.transport.to_string(),
                r.section.clone(),
                r.supports_proxy.to_string(),
                flags.join(", "),
                r.description.clone(),
            ]
        })
        .collect();
    let headers = [
        "HOST:PORT",
        "TRANSPORT",
        "SECTION",
        "PROXY",
        "FLAGS",
        "DESCRIPTION",
    ];
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |c: [&str; 6]| {
        let mut s = String::new();
        for i in 0..5 {
            s.push_str(&pad(c[i], widths[i]));
            s.push_str("  ");
        }
        s.push_str(c[5]);
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers);
    for c in &cells {
        out.push_str(&line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]]));
    }
    out.push_str(&format!("\n{} rows\n", rows.len()));
    out
}
