//! Reading back a report that `--format json` or `--format jsonl` wrote, for the commands that take
//! one (`report`, `export --from`, `baseline save --from`). The document (or each line) is read
//! into the wire types, the same ones the report was written from.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::wire::{self, SCHEMA_VERSION};
use super::{RunContext, RunReport};
use crate::model::observation::StopReason;

/// Why a saved report could not be read. Messages leave out the file name, which callers add
/// (with [`SavedError::line`] when there is one).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SavedError {
    #[error("not JSON: {message}")]
    NotJson { line: usize, message: String },
    #[error("not a pinscope report (no \"targets\" array)")]
    NotReport,
    #[error("not a pinscope report: {message}")]
    Invalid { line: usize, message: String },
}

impl SavedError {
    /// The line of the file the error is on, when it is on one.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::NotJson { line, .. } | Self::Invalid { line, .. } => Some(*line),
            Self::NotReport => None,
        }
    }
}

/// What a saved report's readers use: its targets and what the run said around them. A JSON Lines
/// file cut short (no trailer line) has no summary.
#[derive(Debug, Deserialize)]
pub struct SavedReport {
    /// The pinscope version that wrote it.
    #[serde(default)]
    pub version: Option<String>,
    /// When the run started (RFC 3339), if the report says.
    #[serde(default)]
    pub started_at: Option<String>,
    /// When the run ended (RFC 3339), if the report says.
    #[serde(default)]
    pub finished_at: Option<String>,
    pub targets: Vec<wire::Target>,
    #[serde(default)]
    pub summary: Option<wire::Summary>,
    /// Only JSON Lines' trailer says; a document's targets show it by their `revocation`.
    #[serde(default)]
    pub revocation_checked: Option<bool>,
    /// What the run said about itself (reports written before 0.x carry none).
    #[serde(default)]
    pub context: RunContext,
}

/// Just enough of a document to tell "not JSON" and "JSON, but no targets" from a bad target.
#[derive(Deserialize)]
struct Outline {
    targets: Option<IgnoredAny>,
}

impl SavedReport {
    /// A `--format json` document, or `--format jsonl` lines (targets, then the trailer).
    pub fn parse(text: &str) -> Result<Self, SavedError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match Self::parse_document(text) {
            Ok(report) => Ok(report),
            Err(e @ (SavedError::NotJson { .. } | SavedError::NotReport)) => {
                Self::parse_lines(text).unwrap_or(Err(e))
            }
            Err(e) => Err(e),
        }
    }

    /// JSON Lines: `None` unless the first line is a target or a trailer. After that, a bad line
    /// is an error naming its line rather than a reason to give up.
    fn parse_lines(text: &str) -> Option<Result<Self, SavedError>> {
        #[derive(Deserialize)]
        struct Probe {
            summary: Option<IgnoredAny>,
            host: Option<IgnoredAny>,
        }
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .peekable();
        let (_, first) = lines.peek()?;
        let probe: Probe = serde_json::from_str(first).ok()?;
        if probe.summary.is_none() && probe.host.is_none() {
            return None;
        }
        let mut report = Self {
            version: None,
            started_at: None,
            finished_at: None,
            targets: Vec::new(),
            summary: None,
            revocation_checked: None,
            context: RunContext::default(),
        };
        for (n, line) in lines {
            let invalid = |message: String| SavedError::Invalid {
                line: n + 1,
                message,
            };
            if report.summary.is_some() {
                return Some(Err(invalid("a line after the summary line".into())));
            }
            let probe: Probe = match serde_json::from_str(line) {
                Ok(p) => p,
                Err(e) => {
                    return Some(Err(SavedError::NotJson {
                        line: n + 1,
                        message: e.to_string(),
                    }));
                }
            };
            if probe.summary.is_some() {
                match serde_json::from_str::<wire::Trailer>(line) {
                    Ok(t) => {
                        report.version = Some(t.version);
                        report.started_at = Some(t.started_at);
                        report.finished_at = Some(t.finished_at);
                        report.summary = Some(t.summary);
                        report.revocation_checked = Some(t.revocation_checked);
                        report.context = t.context;
                    }
                    Err(e) => return Some(Err(invalid(e.to_string()))),
                }
            } else {
                match serde_json::from_str(line) {
                    Ok(t) => report.targets.push(t),
                    Err(e) => return Some(Err(invalid(e.to_string()))),
                }
            }
        }
        Some(Ok(report))
    }

    fn parse_document(text: &str) -> Result<Self, SavedError> {
        let outline: Result<Outline, _> = serde_json::from_str(text);
        match outline {
            Err(e) if e.is_syntax() || e.is_eof() => {
                return Err(SavedError::NotJson {
                    line: e.line(),
                    message: e.to_string(),
                });
            }
            Err(_) | Ok(Outline { targets: None }) => return Err(SavedError::NotReport),
            Ok(_) => {}
        }
        serde_json::from_str(text).map_err(|e| SavedError::Invalid {
            line: e.line(),
            message: e.to_string(),
        })
    }
}

impl SavedReport {
    /// Why the saved run stopped early, if its summary says it did.
    pub fn stopped(&self) -> Option<StopReason> {
        let s = self.summary.as_ref()?;
        if s.interrupted {
            Some(StopReason::Interrupted)
        } else if s.deadline_passed {
            Some(StopReason::Deadline)
        } else {
            None
        }
    }

    /// Whether OCSP and CRL results were fetched: the trailer says, a document's targets show.
    fn revocation_checked(&self) -> bool {
        self.revocation_checked
            .unwrap_or_else(|| self.targets.iter().any(|t| !t.revocation.is_empty()))
    }

    /// The saved targets as a finished run, for the renderers (see [`wire::restore`]).
    pub fn run(&self) -> RunReport {
        let stopped = self.stopped();
        RunReport {
            started_at: self.started_at.clone().unwrap_or_default(),
            finished_at: self.finished_at.clone().unwrap_or_default(),
            results: self
                .targets
                .iter()
                .map(|t| wire::restore::result(t, stopped))
                .collect(),
            revocation_checked: self.revocation_checked(),
            stopped,
            tally: None,
            context: self.context.clone(),
        }
    }

    /// The summary the run wrote; computed from the targets when the report has none (a JSON
    /// Lines file cut short).
    pub fn summary(&self) -> wire::Summary {
        self.summary
            .clone()
            .unwrap_or_else(|| wire::Summary::from(&self.run().summary()))
    }

    /// The exit code the audit had (its summary's), or that its targets imply.
    pub fn exit_code(&self) -> u8 {
        match &self.summary {
            Some(s) => s.exit_code,
            None => self.run().summary().exit_code,
        }
    }

    /// The pinscope version that wrote the report, or this one's when the report does not say.
    fn tool_version(&self) -> String {
        self.version
            .clone()
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").into())
    }

    /// The report as a `--format json` document, from the saved wire types (nothing lost).
    pub fn write_json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let doc = wire::Document {
            tool: "pinscope".into(),
            version: self.tool_version(),
            schema_version: SCHEMA_VERSION,
            started_at: self.started_at.clone().unwrap_or_default(),
            finished_at: self.finished_at.clone().unwrap_or_default(),
            context: self.context.clone(),
            targets: self.targets.clone(),
            summary: self.summary(),
        };
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
        out.write_all(b"\n")
    }

    /// The report as `--format jsonl` lines: each target, then the trailer.
    pub fn write_jsonl(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        for t in &self.targets {
            serde_json::to_writer(&mut *out, t).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
        }
        let trailer = wire::Trailer {
            summary: self.summary(),
            tool: "pinscope".into(),
            version: self.tool_version(),
            schema_version: SCHEMA_VERSION,
            started_at: self.started_at.clone().unwrap_or_default(),
            finished_at: self.finished_at.clone().unwrap_or_default(),
            revocation_checked: self.revocation_checked(),
            context: self.context.clone(),
        };
        serde_json::to_writer(&mut *out, &trailer).map_err(std::io::Error::from)?;
        out.write_all(b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_read_into_wire_types_and_bad_input_is_told_apart() {
        let text = r#"{"finished_at": "2026-01-01T00:00:00Z", "targets": [
            {"host": "a.example", "port": 443, "verdict": "intercepted", "section": "s"}
        ]}"#;
        let report = SavedReport::parse(text).unwrap();
        assert_eq!(report.finished_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(report.targets[0].verdict, wire::Verdict::Intercepted);
        assert_eq!(report.targets[0].section.as_deref(), Some("s"));
        assert!(matches!(
            SavedReport::parse("{ nope"),
            Err(SavedError::NotJson { line: 1, .. })
        ));
        assert!(matches!(
            SavedReport::parse(r#"{"hello": 1}"#),
            Err(SavedError::NotReport)
        ));
        assert!(matches!(
            SavedReport::parse(r#"{"targets": [{"host": "a"}]}"#),
            Err(SavedError::Invalid { .. })
        ));
    }

    #[test]
    fn json_lines_are_read_with_their_trailer_and_bad_lines_are_numbered() {
        let run = crate::report::sample::run();
        let mut text = String::new();
        for r in &run.results {
            text.push_str(&crate::report::jsonl::target_line(r));
        }
        text.push_str(&crate::report::jsonl::summary_line(&run));
        let report = SavedReport::parse(&text).unwrap();
        assert_eq!(report.targets.len(), run.results.len());
        assert_eq!(report.summary, Some(wire::Summary::from(&run.summary())));
        assert_eq!(report.exit_code(), run.summary().exit_code);
        let mut lines = Vec::new();
        report.write_jsonl(&mut lines).unwrap();
        assert_eq!(String::from_utf8(lines).unwrap(), text);
        let mut doc = Vec::new();
        report.write_json(&mut doc).unwrap();
        assert_eq!(
            String::from_utf8(doc).unwrap(),
            crate::report::json::render(&run)
        );
        let bad = format!(
            "{}{{\"host\": 1}}\n",
            crate::report::jsonl::target_line(&run.results[0])
        );
        assert!(matches!(
            SavedReport::parse(&bad),
            Err(SavedError::Invalid { line: 2, .. })
        ));
        // What the renderers get back judges the same.
        let again = report.run();
        assert_eq!(again.summary(), run.summary());
        assert_eq!(
            crate::report::table::render(&again, false),
            crate::report::table::render(&run, false)
        );
    }
}
