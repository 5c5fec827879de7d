//! Reading back a report that `--format json` wrote, for the commands that take one with
//! `--from` (`export`, `baseline save`). The document is read into the wire types, the same ones
//! the report was written from.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::wire;

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

/// What a saved report's readers use: when it ended and its targets.
#[derive(Debug, Deserialize)]
pub struct SavedReport {
    /// When the run ended (RFC 3339), if the report says.
    #[serde(default)]
    pub finished_at: Option<String>,
    pub targets: Vec<wire::Target>,
}

/// Just enough of a document to tell "not JSON" and "JSON, but no targets" from a bad target.
#[derive(Deserialize)]
struct Outline {
    targets: Option<IgnoredAny>,
}

impl SavedReport {
    pub fn parse(text: &str) -> Result<Self, SavedError> {
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
}
