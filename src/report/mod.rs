//! Rendering results for people and programs. Renderers take finished results and produce text;
//! they decide presentation only, never verdicts.

pub mod json;
pub mod table;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::{Assessment, Verdict};
use crate::observation::Observation;

/// One target's observation and its judgement.
#[derive(Clone, Debug)]
pub struct TargetResult {
    pub observation: Observation,
    pub assessment: Assessment,
}

/// A finished run, ready to render.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    pub results: Vec<TargetResult>,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Counts per verdict, and the exit code they imply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    #[serde(flatten)]
    pub counts: BTreeMap<&'static str, usize>,
    pub exit_code: u8,
}

/// Exit codes are a documented contract (README, docs/exit-codes.md).
pub mod exit {
    /// Every target passed (skipped targets do not count against this).
    pub const OK: u8 = 0;
    /// At least one target is intercepted.
    pub const INTERCEPTED: u8 = 1;
    /// Usage or input error.
    pub const USAGE: u8 = 2;
    /// No interception, but some target failed (blocked, timeout, DNS, TLS, untrusted).
    pub const FAILED: u8 = 3;
}

impl Summary {
    pub fn of<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> Self {
        let mut counts: BTreeMap<&'static str, usize> =
            Verdict::ALL.iter().map(|v| (v.as_str(), 0)).collect();
        let mut total = 0;
        let (mut intercepted, mut failed) = (false, false);
        for v in verdicts {
            total += 1;
            *counts.entry(v.as_str()).or_default() += 1;
            intercepted |= *v == Verdict::Intercepted;
            failed |= v.is_failure();
        }
        let exit_code = if intercepted {
            exit::INTERCEPTED
        } else if failed {
            exit::FAILED
        } else {
            exit::OK
        };
        Self {
            total,
            counts,
            exit_code,
        }
    }

    pub fn count(&self, v: Verdict) -> usize {
        self.counts.get(v.as_str()).copied().unwrap_or(0)
    }

    /// "42 targets: 30 pass, 2 intercepted, …" with zero counts left out.
    pub fn line(&self) -> String {
        let parts: Vec<String> = Verdict::ALL
            .iter()
            .filter(|v| self.count(**v) > 0)
            .map(|v| format!("{} {}", self.count(*v), v.as_str()))
            .collect();
        let noun = if self.total == 1 { "target" } else { "targets" };
        if parts.is_empty() {
            format!("{} {noun}", self.total)
        } else {
            format!("{} {noun}: {}", self.total, parts.join(", "))
        }
    }
}

impl RunReport {
    pub fn summary(&self) -> Summary {
        Summary::of(self.results.iter().map(|r| &r.assessment.verdict))
    }

    pub fn render(&self, format: Format, color: bool) -> String {
        match format {
            Format::Table => table::render(self, color),
            Format::Json => json::render(self),
        }
    }
}
