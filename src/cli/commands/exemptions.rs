//! `pinscope exemptions check`: a team's own exemption list, checked against the catalog rows
//! the selection keeps.

use anyhow::Context as _;

use super::super::args::{ExemptionsAction, ExemptionsArgs, ExemptionsCheckArgs};
use super::super::plan;
use crate::analysis::exemptions;
use crate::input::exemptions as list;
use crate::report::{exemptions as render, exit};
use crate::run::output::Output;

pub fn run(args: &ExemptionsArgs) -> anyhow::Result<u8> {
    match &args.action {
        ExemptionsAction::Check(a) => check(a),
    }
}

fn check(args: &ExemptionsCheckArgs) -> anyhow::Result<u8> {
    let (catalog, filter) = plan::catalog_rows(&args.selection)?;
    let selected: Vec<_> = catalog.rows.iter().filter(|r| filter.matches(r)).collect();
    let read = list::read(&args.file, args.format)?;
    let shown = read.file.clone();
    let result = exemptions::check(&read, &selected, &catalog.rows)
        .with_context(|| format!("{shown}: the PAC cannot be evaluated"))?;
    let output = Output::open(args.output.as_deref())?;
    output.write(&render::render(&result, args.output_format))?;
    Ok(if result.missing().next().is_some() {
        exit::INTERCEPTED
    } else {
        exit::OK
    })
}
