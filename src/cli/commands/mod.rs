//! One file per command. Each builds its plan (`super::plan`), runs it (`crate::run`) and returns
//! the exit code; the helpers here open the output and write a finished run to it.

pub mod audit;
pub mod baseline;
pub mod catalog;
pub mod docs;
pub mod export;
pub mod inspect;
pub mod report;

use crate::report::exit;
use crate::report::{Format, RunReport};
use crate::run::output::{Output, Printout, print_to_stdout};
use crate::run::plan::OutputPlan;

/// A run's output, opened: the printer for its format, writing to its destination.
pub struct Opened {
    pub printout: Printout,
    format: Format,
    color: bool,
}

/// Opens the plan's output (failing now, before any probing, when it cannot be written) and makes
/// the printer for its format; the table is coloured on a terminal unless `NO_COLOR` is set.
pub fn open(plan: &OutputPlan) -> anyhow::Result<Opened> {
    let output = Output::open(plan.path.as_deref())?;
    let color = plan.format == Format::Table && output.is_terminal() && color_allowed();
    Ok(Opened {
        printout: Printout::new(plan.format, color, output),
        format: plan.format,
        color,
    })
}

impl Opened {
    /// Writes the finished run and returns the exit code its verdicts imply. When the output
    /// cannot be written, the results go to standard output instead (they exist; do not lose
    /// them) and the exit code is the usage error's.
    pub fn finish(self, report: &RunReport) -> u8 {
        match self.printout.finish(report) {
            Ok(()) => report.summary().exit_code,
            Err(e) => {
                eprintln!("pinscope: error: {e:#}; writing the results to standard output instead");
                print_to_stdout(self.format, self.color, report);
                exit::USAGE
            }
        }
    }
}

fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
