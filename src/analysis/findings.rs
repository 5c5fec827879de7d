//! The sink the analysis stages push their findings into (as x509-parser's validators push into a
//! logger). The verdict is not decided here: `policy.rs` reads the findings once every stage has
//! spoken.

use crate::model::finding::{Code, Finding, Severity};

/// Where the analysis stages put what they find, in the order they find it (the order of the JSON
/// `findings`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Findings {
    list: Vec<Finding>,
}

impl Findings {
    pub fn push(&mut self, finding: Finding) {
        self.list.push(finding);
    }

    pub fn info(&mut self, code: Code, message: impl Into<String>) {
        self.push(Finding::new(code, Severity::Info, message));
    }

    pub fn warn(&mut self, code: Code, message: impl Into<String>) {
        self.push(Finding::new(code, Severity::Warning, message));
    }

    pub fn error(&mut self, code: Code, message: impl Into<String>) {
        self.push(Finding::new(code, Severity::Error, message));
    }

    /// Another sink's findings, after this one's.
    pub fn append(&mut self, other: Findings) {
        self.list.extend(other.list);
    }

    pub fn has(&self, code: Code) -> bool {
        self.list.iter().any(|f| f.code == code)
    }

    /// The first finding with this code.
    pub fn get(&self, code: Code) -> Option<&Finding> {
        self.list.iter().find(|f| f.code == code)
    }

    pub fn as_slice(&self) -> &[Finding] {
        &self.list
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.list
    }
}

impl Extend<Finding> for Findings {
    fn extend<I: IntoIterator<Item = Finding>>(&mut self, iter: I) {
        self.list.extend(iter);
    }
}
