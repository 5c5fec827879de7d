//! The model: the plain data every other layer speaks. What is probed ([`target`], and the catalog
//! [`row`] it came from), what a probe saw ([`observation`]), what the analysis found and decided
//! ([`finding`]: findings, codes, severities, verdicts), and the [`baseline`] file format, and the [`context`] a report states about its run.
//! Nothing here does I/O beyond parsing text handed to it, and nothing here depends on another
//! pinscope module.

pub mod baseline;
pub mod context;
pub mod finding;
pub mod observation;
pub mod row;
pub mod target;
