//! The JSON document (`--format json`): the wire types of [`super::wire`], written straight to the
//! output one target at a time. `tests/json_contract.rs` deserialises real output against a mirror
//! of docs/json-schema.md.

use serde::Serialize;
use serde::ser::SerializeSeq;

use super::wire::{self, SCHEMA_VERSION};
use super::{RunContext, RunReport, TargetResult};
use crate::catalog::Row;

/// The document as written: the fields of [`wire::Document`] in the same order, with the targets
/// converted one at a time as they are written, so a large audit's JSON is never held in memory
/// whole. The test below keeps the two identical.
#[derive(Serialize)]
struct Streamed<'a> {
    tool: &'static str,
    version: &'static str,
    schema_version: u32,
    started_at: &'a str,
    finished_at: &'a str,
    context: &'a RunContext,
    targets: Targets<'a>,
    summary: wire::Summary,
}

struct Targets<'a>(&'a [TargetResult]);

impl Serialize for Targets<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for r in self.0 {
            seq.serialize_element(&wire::target(r))?;
        }
        seq.end()
    }
}

/// The whole document, as wire types.
pub fn document(run: &RunReport) -> wire::Document {
    wire::Document {
        tool: "pinscope".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        schema_version: SCHEMA_VERSION,
        started_at: run.started_at.clone(),
        finished_at: run.finished_at.clone(),
        context: run.context.clone(),
        targets: run.results.iter().map(wire::target).collect(),
        summary: wire::Summary::from(&run.summary()),
    }
}

/// One target serialised exactly as in the document's `targets`, on one line (`--format jsonl`).
pub fn target_line(r: &TargetResult) -> String {
    serde_json::to_string(&wire::target(r)).unwrap_or_else(|_| "{}".into())
}

pub fn render(run: &RunReport) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and serialising plain structs of strings and numbers
    // cannot either.
    let _ = write(run, &mut out);
    String::from_utf8(out).unwrap_or_else(|_| "{}\n".into())
}

/// Writes the document straight to `out`.
pub fn write(run: &RunReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let doc = Streamed {
        tool: "pinscope",
        version: env!("CARGO_PKG_VERSION"),
        schema_version: SCHEMA_VERSION,
        started_at: &run.started_at,
        finished_at: &run.finished_at,
        context: &run.context,
        targets: Targets(&run.results),
        summary: wire::Summary::from(&run.summary()),
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// The catalog as JSON: one object per host:port:transport, with the Apple pinning policy that
/// applies to its host (`pinning` gives it by host name).
pub fn render_catalog(rows: &[&Row], pinning: impl Fn(&str) -> Option<String>) -> String {
    #[derive(Serialize)]
    struct CatalogRow<'a> {
        #[serde(flatten)]
        row: &'a Row,
        apple_pinning_policy: Option<String>,
    }
    let rows: Vec<CatalogRow<'_>> = rows
        .iter()
        .map(|row| CatalogRow {
            row,
            apple_pinning_policy: if row.is_unresolved_pattern() {
                None
            } else {
                pinning(&row.host)
            },
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::run as report;

    #[test]
    fn the_streamed_document_is_the_wire_document_and_reads_back() {
        let run = report();
        let written = render(&run);
        let mut whole = serde_json::to_string_pretty(&document(&run)).unwrap();
        whole.push('\n');
        assert_eq!(written, whole);
        let read: wire::Document = serde_json::from_str(&written).unwrap();
        assert_eq!(read, document(&run));
        let line: wire::Target = serde_json::from_str(&target_line(&run.results[0])).unwrap();
        assert_eq!(line, read.targets[0]);
    }
}
