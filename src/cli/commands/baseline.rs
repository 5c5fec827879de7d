//! `pinscope baseline save`: record what a clean network presents, from an audit run now or from
//! an earlier audit's JSON.

use super::super::args::{BaselineAction, BaselineArgs};
use super::super::plan;
use super::export::read_saved;
use crate::report::{self, exit};
use crate::run::output::Output;
use crate::run::{self, now_rfc3339};

pub fn run(args: BaselineArgs) -> anyhow::Result<u8> {
    let BaselineAction::Save(save) = args.action;
    // Fail on an unwritable destination before probing anything.
    let destination = Output::open_as(Some(&save.file), "baseline")?;
    let created_at = now_rfc3339();
    let (baseline, left_out, code) = match &save.from {
        Some(path) => {
            let saved = read_saved(path)?;
            let (b, left_out) = report::baseline::from_saved(&saved, &created_at);
            (b, left_out, exit::OK)
        }
        None => {
            let plan = plan::audit(&save.audit, false)?;
            let opened = super::open(&plan.output)?;
            // The results are written when the run is over, whatever the format.
            let report = run::audit(&plan, &mut run::AtTheEnd)?;
            let (b, left_out) =
                report::baseline::from_results(&report.results, &created_at, &report.finished_at);
            (b, left_out, opened.finish(&report))
        }
    };
    destination.write(&baseline.to_json())?;
    eprintln!(
        "pinscope: baseline {}: {} targets recorded{}",
        report::text::line(&save.file.display().to_string()),
        baseline.targets.len(),
        if left_out.is_empty() {
            String::new()
        } else {
            format!(
                "; left out (not pass): {}",
                report::text::line(&left_out.join(", "))
            )
        }
    );
    Ok(code)
}
