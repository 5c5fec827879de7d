//! `pinscope audit`: probe the catalog (or the given targets) and judge every chain.

use super::super::args::AuditArgs;
use super::super::plan;
use crate::run;

pub fn run(args: &AuditArgs) -> anyhow::Result<u8> {
    let plan = plan::audit(args, true)?;
    let mut opened = super::open(&plan.output)?;
    let report = run::audit(&plan, &mut opened.printout)?;
    Ok(opened.finish(&report))
}
