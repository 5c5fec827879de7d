//! Printers: one type per output format, all behind [`Printer`]. A run hands a printer its results
//! (`begin`, then `target` for each, then `finish` with the whole run); the printer decides what to
//! write and when. JSON Lines writes each target as it comes; the other formats write everything
//! at `finish`, from the finished run.

use std::io::{self, Write};

use super::{Format, RunReport, TargetResult, html, json, jsonl, junit, markdown, table, text};

/// Writes a run's results in one format.
///
/// Each printer gets `begin` once, then `target` once per result, then `finish` once, all with the
/// same output. When [`Printer::streams`], the targets come as they finish, in the order they
/// finish, while the run is still going; otherwise they may come all at once at the end. `finish`
/// always gets the whole run, in the targets' order.
pub trait Printer {
    /// Whether this printer writes each target as soon as it gets it, so the run should hand
    /// over every target as soon as it is finished.
    fn streams(&self) -> bool {
        false
    }

    /// Before the first target.
    fn begin(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    /// One finished target.
    fn target(&mut self, _result: &TargetResult, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    /// The finished run.
    fn finish(&mut self, run: &RunReport, out: &mut dyn Write) -> io::Result<()>;
}

/// The printer for a format; `color` only matters to the table.
pub fn printer(format: Format, color: bool) -> Box<dyn Printer> {
    match format {
        Format::Table => Box::new(Table { color }),
        Format::Json => Box::new(Json),
        Format::Jsonl => Box::new(JsonLines),
        Format::Markdown => Box::new(Markdown),
        Format::Html => Box::new(Html),
        Format::Junit => Box::new(Junit),
    }
}

/// Runs a printer over a finished run: `begin`, every target in order, `finish`.
pub fn print(printer: &mut dyn Printer, run: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    printer.begin(out)?;
    for r in &run.results {
        printer.target(r, out)?;
    }
    printer.finish(run, out)
}

/// One line per target, for a terminal (`--format table`).
#[derive(Debug)]
pub struct Table {
    /// Colour the verdicts (ANSI escapes).
    pub color: bool,
}

impl Printer for Table {
    fn finish(&mut self, run: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(table::render(run, self.color).as_bytes())
    }
}

/// One JSON document (`--format json`), streamed to the output at the end.
#[derive(Debug)]
pub struct Json;

impl Printer for Json {
    fn finish(&mut self, run: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        let mut safe = JsonSafe::new(out);
        json::write(run, &mut safe)?;
        safe.flush()
    }
}

/// Writes JSON through [`text::json`]: the C1 controls and bidi overrides a certificate name may
/// hold (which JSON serialisers leave raw) as `\uXXXX` escapes. Holds back an incomplete UTF-8
/// sequence until the rest of it comes.
struct JsonSafe<'a> {
    inner: &'a mut dyn Write,
    pending: Vec<u8>,
}

impl<'a> JsonSafe<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }
}

impl Write for JsonSafe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let complete = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            // An incomplete sequence at the end waits; invalid bytes (never written by the JSON
            // serialiser) pass as they are.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.pending.len(),
        };
        let rest = self.pending.split_off(complete);
        match std::str::from_utf8(&self.pending) {
            Ok(s) => self.inner.write_all(text::json(s).as_bytes())?,
            Err(_) => self.inner.write_all(&self.pending)?,
        }
        self.pending = rest;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.write_all(&std::mem::take(&mut self.pending))?;
        self.inner.flush()
    }
}

/// JSON Lines (`--format jsonl`): each target's line as soon as it is finished, then the summary.
#[derive(Debug)]
pub struct JsonLines;

impl Printer for JsonLines {
    fn streams(&self) -> bool {
        true
    }

    fn target(&mut self, result: &TargetResult, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(text::json(&jsonl::target_line(result)).as_bytes())
    }

    fn finish(&mut self, run: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(text::json(&jsonl::summary_line(run)).as_bytes())
    }
}

/// A report to hand on (`--format markdown`).
#[derive(Debug)]
pub struct Markdown;

impl Printer for Markdown {
    fn finish(&mut self, run: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(markdown::render(run).as_bytes())
    }
}

/// The Markdown report's content as one self-contained HTML file (`--format html`).
#[derive(Debug)]
pub struct Html;

impl Printer for Html {
    fn finish(&mut self, run: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(html::render(run).as_bytes())
    }
}

/// JUnit XML, one test case per target (`--format junit`).
#[derive(Debug)]
pub struct Junit;

impl Printer for Junit {
    fn finish(&mut self, run: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(junit::render(run).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    fn printed(format: Format, run: &RunReport) -> String {
        let mut out = Vec::new();
        print(printer(format, false).as_mut(), run, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_lines_stream_each_target_then_the_summary_and_the_rest_print_at_the_end() {
        let run = sample::run();
        let lines: String = run.results.iter().map(jsonl::target_line).collect();
        assert_eq!(
            printed(Format::Jsonl, &run),
            lines + &jsonl::summary_line(&run)
        );
        assert!(printer(Format::Jsonl, false).streams());
        assert_eq!(printed(Format::Json, &run), json::render(&run));
        assert_eq!(printed(Format::Table, &run), table::render(&run, false));
        for format in [
            Format::Table,
            Format::Json,
            Format::Markdown,
            Format::Html,
            Format::Junit,
        ] {
            assert!(!printer(format, false).streams());
            let mut nothing = Vec::new();
            printer(format, false)
                .target(&run.results[0], &mut nothing)
                .unwrap();
            assert!(nothing.is_empty(), "{format:?}");
        }
    }
}
