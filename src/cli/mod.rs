//! The command line: the only layer that reads flags and the environment. It parses arguments
//! (`args.rs`: raw flags, as clap sees them), resolves them into plans (`plan.rs`: every check in
//! one place, trust stores loaded by `trust.rs`), hands each plan to the run layer ([`crate::run`])
//! from its command's file (`commands/`), and maps the outcome to an exit code.

mod args;
mod commands;
mod plan;
mod trust;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _};

use crate::report::exit;
use args::{Cli, Command};

/// Runs pinscope with the process's arguments.
pub fn main() -> ExitCode {
    // A copy of pinscope started to evaluate one PAC call under a memory limit (see
    // `probe::pac_child`): not a command users type, so not in the command list.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == crate::probe::pac_child::CHILD_ARG)
    {
        return ExitCode::from(crate::probe::pac_child::child_main());
    }
    // The matches are kept: `serve` needs to know which flags were given (they override its
    // config file) rather than left at their defaults.
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_exit(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    commands::set_color(cli.color);
    let result = match cli.command {
        Command::Audit(a) => commands::audit::run(&a),
        Command::Catalog(a) => commands::catalog::run(&a),
        Command::Inspect(a) => commands::inspect::run(&a),
        Command::Export(a) => commands::export::run(&a),
        Command::Exemptions(a) => commands::exemptions::run(&a),
        Command::Baseline(a) => commands::baseline::run(a),
        Command::Report(a) => commands::report::run(&a),
        Command::Serve(a) => commands::serve::run(a, &given_flags(&matches, "serve")),
        Command::Completions(a) => commands::docs::completions(&a),
        Command::Man(a) => commands::docs::man(&a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Errors can quote what a file or a server supplied: controls shown escaped.
            eprintln!(
                "pinscope: error: {}",
                crate::report::text::clean(&format!("{e:#}"))
            );
            ExitCode::from(exit::USAGE)
        }
    }
}

/// The ids of the flags given on the command line to `subcommand` (not left at their defaults).
fn given_flags(matches: &clap::ArgMatches, subcommand: &str) -> Vec<String> {
    matches
        .subcommand_matches(subcommand)
        .map(|m| {
            m.ids()
                .filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine))
                .map(|id| id.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Help and version go to stdout with status 0 (also the help a bare `pinscope` or `pinscope
/// baseline` shows); every other clap error becomes one line and exit 2.
fn clap_exit(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            crate::run::output::write_stdout(&e.render().to_string());
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            // clap spreads some messages over several lines ("the following required arguments
            // were not provided:" then the flags); keep everything before the usage block.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let message = message.join(" ");
            let message = message.trim_start_matches("error: ");
            eprintln!(
                "pinscope: error: {} (see pinscope --help)",
                crate::report::text::line(message)
            );
            ExitCode::from(exit::USAGE)
        }
    }
}
