//! `pinscope catalog`: print the catalog of hosts devices must reach.

use super::super::args::CatalogArgs;
use super::super::plan;
use crate::analysis::knowledge::Knowledge;
use crate::report::{Format, exit, json, table};
use crate::run::output::Output;

pub fn run(args: &CatalogArgs) -> anyhow::Result<u8> {
    let (catalog, filter) = plan::catalog_rows(&args.selection)?;
    let rows: Vec<_> = catalog.rows.iter().filter(|r| filter.matches(r)).collect();
    let output = Output::open(args.output.output.as_deref())?;
    super::fit_table(output.is_terminal());
    table::expand_variants(args.table.expand);
    let format = plan::catalog_format(&args.output)?;
    let knowledge = Knowledge::builtin()?;
    let text = match format {
        Format::Json => json::render_catalog(&rows, |host| {
            knowledge.pinning.lookup(host).map(|p| p.name.clone())
        }),
        _ => table::render_catalog(&rows),
    };
    output.write(&text)?;
    Ok(exit::OK)
}
