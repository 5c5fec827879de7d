//! One file per command. Each builds its plan (`super::plan`), runs it (`crate::run`) and returns
//! the exit code; the helpers here open the output and write a finished run to it.

pub mod audit;
pub mod baseline;
pub mod catalog;
pub mod docs;
pub mod exemptions;
pub mod export;
pub mod inspect;
pub mod report;
pub mod serve;

use std::sync::OnceLock;

use super::args::ColorChoice;
use crate::report::{Format, RunReport, exit, table};
use crate::run::output::{Output, Printout, print_to_stdout};
use crate::run::plan::OutputPlan;

/// A run's output, opened: the printer for its format, writing to its destination.
pub struct Opened {
    pub printout: Printout,
    format: Format,
    color: bool,
}

/// `--color`, as given on the command line (set once, before the command runs).
static COLOR: OnceLock<ColorChoice> = OnceLock::new();

/// Records `--color` for the commands that print a table.
pub fn set_color(choice: ColorChoice) {
    let _ = COLOR.set(choice);
}

/// Opens the plan's output (failing now, before any probing, when it cannot be written) and makes
/// the printer for its format; the table is coloured as `--color` says (on a terminal unless
/// `NO_COLOR` is set, by default) and fitted to the terminal's width when it goes to one.
pub fn open(plan: &OutputPlan) -> anyhow::Result<Opened> {
    let output = Output::open(plan.path.as_deref())?;
    let terminal = output.is_terminal();
    if plan.format == Format::Table {
        fit_table(terminal);
    }
    let color = plan.format == Format::Table && colored(terminal);
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
                eprintln!(
                    "pinscope: error: {}; writing the results to standard output instead",
                    crate::report::text::clean(&format!("{e:#}"))
                );
                print_to_stdout(self.format, self.color, report);
                exit::USAGE
            }
        }
    }
}

/// Whether to colour output going to a terminal (`terminal`) or not, as `--color` says.
fn colored(terminal: bool) -> bool {
    match COLOR.get().copied().unwrap_or(ColorChoice::Auto) {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Fits tables to the terminal when they go to one (`terminal`): `$COLUMNS` when it is a number,
/// else the terminal's width; piped or written to a file, nothing is cut.
pub fn fit_table(terminal: bool) {
    if !terminal {
        table::fit_to(None);
        return;
    }
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or_else(|| {
            terminal_size::terminal_size_of(std::io::stdout())
                .map(|(terminal_size::Width(w), _)| usize::from(w))
        });
    table::fit_to(columns);
}
