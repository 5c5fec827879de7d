//! Reading back a report that `--format json` wrote, for the commands that take one with
//! `--from` (`export`, `baseline save`).

use serde_json::Value;

/// Why a saved report could not be read. Messages leave out the file name, which callers add.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SavedError {
    #[error("not JSON: {message}")]
    NotJson { line: usize, message: String },
    #[error("not a pinscope report (no \"targets\" array)")]
    NotReport,
    #[error("target {0} lacks host, port or verdict")]
    Target(usize),
}

/// A parsed report whose every target has a host, a port and a verdict.
#[derive(Debug)]
pub struct SavedReport {
    doc: Value,
}

/// One target of a saved report: the fields every use needs, and the rest as JSON.
#[derive(Debug)]
pub struct SavedTarget<'a> {
    pub host: &'a str,
    pub port: u16,
    pub verdict: &'a str,
    pub json: &'a Value,
}

impl<'a> SavedTarget<'a> {
    fn from_json(json: &'a Value) -> Option<Self> {
        Some(Self {
            host: json.get("host")?.as_str()?,
            port: u16::try_from(json.get("port")?.as_u64()?).ok()?,
            verdict: json.get("verdict")?.as_str()?,
            json,
        })
    }

    /// A string field of the target, if present.
    pub fn text(&self, key: &str) -> Option<&'a str> {
        self.json.get(key).and_then(Value::as_str)
    }
}

impl SavedReport {
    pub fn parse(text: &str) -> Result<Self, SavedError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| SavedError::NotJson {
            line: e.line(),
            message: e.to_string(),
        })?;
        let targets = doc
            .get("targets")
            .and_then(Value::as_array)
            .ok_or(SavedError::NotReport)?;
        if let Some(i) = targets
            .iter()
            .position(|t| SavedTarget::from_json(t).is_none())
        {
            return Err(SavedError::Target(i + 1));
        }
        Ok(Self { doc })
    }

    /// When the run ended (RFC 3339), if the report says.
    pub fn finished_at(&self) -> Option<&str> {
        self.doc.get("finished_at").and_then(Value::as_str)
    }

    pub fn targets(&self) -> impl Iterator<Item = SavedTarget<'_>> {
        self.doc
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(SavedTarget::from_json)
    }
}
