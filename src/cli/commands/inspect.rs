//! `pinscope inspect`: judge a chain read from files, as the audit would.

use super::super::args::InspectArgs;
use super::super::plan;
use crate::run;

pub fn run(args: &InspectArgs) -> anyhow::Result<u8> {
    let plan = plan::inspect(args)?;
    let opened = super::open(&plan.output)?;
    let report = run::inspect(&plan);
    Ok(opened.finish(&report))
}
