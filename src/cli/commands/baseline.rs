//! `pinscope baseline save`: record what a clean network presents, from an audit run now or from
//! an earlier audit's JSON.

use super::super::args::{BaselineAction, BaselineArgs};
use super::super::plan;
use super::export::read_saved;
use crate::report::{self, Format, exit};
use crate::run::output::Output;
use crate::run::{self, now_rfc3339};

pub fn run(args: BaselineArgs) -> anyhow::Result<u8> {
    let BaselineAction::Save(save) = args.action;
    if save.audit.save_chains.is_some() {
        anyhow::bail!("--save-chains is for `audit`; `baseline save` records keys, not chains");
    }
    // Fail on an unwritable destination before probing anything.
    let destination = Output::open_as(Some(&save.file), "baseline")?;
    let created_at = now_rfc3339();
    let (baseline, left_out, summary) = match &save.from {
        Some(path) => {
            let saved = read_saved(path)?;
            let (b, left_out) = report::baseline::from_saved(&saved, &created_at);
            (b, left_out, saved.run().summary())
        }
        None => {
            let plan = plan::audit(&save.audit, false)?;
            report::table::expand_variants(save.audit.table.expand);
            // The results themselves are written only when `-o` or a `--format` other than the
            // table asks for them (the baseline is what this command makes); the output is opened
            // now, before probing, so a bad path fails early.
            let wanted = plan.output.path.is_some() || plan.output.format != Format::Table;
            let opened = if wanted {
                Some(super::open(&plan.output)?)
            } else {
                None
            };
            let report = run::audit(&plan, &mut run::AtTheEnd)?;
            let (b, left_out) =
                report::baseline::from_results(&report.results, &created_at, &report.finished_at);
            if let Some(opened) = opened {
                // Its exit code is the audit's; this command's is the baseline's.
                let _ = opened.finish(&report);
            }
            (b, left_out, report.summary())
        }
    };
    destination.write(&baseline.to_json())?;
    eprintln!("pinscope: {}", summary.line());
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
    // The verdicts' exit codes are `audit`'s: the baseline was written, whatever it holds.
    Ok(exit::OK)
}
