//! `pinscope export`: the host patterns to exempt from SSL inspection, from the catalog or from an
//! earlier audit's JSON.

use std::path::Path;

use anyhow::anyhow;

use super::super::args::ExportArgs;
use super::super::plan;
use crate::report::export::{self as exemptions, ResultRow};
use crate::report::saved::SavedReport;
use crate::report::{exit, wire};
use crate::run::output::Output;

pub fn run(args: &ExportArgs) -> anyhow::Result<u8> {
    let proxy = plan::pac_proxy(args)?;
    let list = match &args.from {
        Some(path) => {
            let only = plan::only_verdicts(&args.only)?;
            exemptions::from_results(&read_results(path, &only)?)
        }
        None => {
            let (catalog, filter) = plan::catalog_rows(&args.selection)?;
            exemptions::from_catalog(catalog.rows.iter().filter(|r| filter.matches(r)))
        }
    };
    let output = Output::open(args.output.as_deref())?;
    output.write(&exemptions::render(&list, args.format, proxy.as_deref()))?;
    Ok(exit::OK)
}

/// Targets of an earlier audit, from its JSON document or JSON Lines, keeping those with the given
/// verdicts; when `only` is empty, those not passing (skipped targets, never probed, give nothing
/// to exempt).
fn read_results(path: &Path, only: &[wire::Verdict]) -> anyhow::Result<Vec<ResultRow>> {
    let report = read_saved(path)?;
    Ok(report
        .targets
        .into_iter()
        .filter(|t| {
            if only.is_empty() {
                !matches!(t.verdict, wire::Verdict::Pass | wire::Verdict::Skipped)
            } else {
                only.contains(&t.verdict)
            }
        })
        .map(|t| ResultRow {
            host: t.host,
            port: t.port,
            section: t.section,
            pattern: t.pattern,
            reason: t.explanation,
        })
        .collect())
}

/// An earlier audit's JSON document or JSON Lines (`-`: standard input); errors name the file, and the line when there is one.
pub fn read_saved(path: &Path) -> anyhow::Result<SavedReport> {
    let shown = path.display();
    let text = super::report::read_text(path)?;
    SavedReport::parse(&text).map_err(|e| match e.line() {
        Some(line) => anyhow!("{shown}:{line}: {e}"),
        None => anyhow!("{shown}: {e}"),
    })
}
