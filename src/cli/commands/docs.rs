//! `pinscope completions` and `pinscope man`: documentation generated from the flags.

use anyhow::{Context as _, anyhow};
use clap::CommandFactory;

use super::super::args::{Cli, CompletionsArgs, ManArgs};
use crate::report::exit;
use crate::run::output::write_stdout;

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pinscope", &mut script);
    write_stdout(&String::from_utf8_lossy(&script));
    Ok(exit::OK)
}

pub fn man(args: &ManArgs) -> anyhow::Result<u8> {
    let cli = Cli::command();
    let page = match &args.command {
        None => cli,
        Some(name) => {
            let known: Vec<String> = cli
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .collect();
            let sub = cli.find_subcommand(name).ok_or_else(|| {
                anyhow!(
                    "man '{name}': no such command (known: {})",
                    known.join(", ")
                )
            })?;
            sub.clone()
                .display_name(format!("pinscope-{name}"))
                .bin_name(format!("pinscope {name}"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("pinscope {}", env!("CARGO_PKG_VERSION")))
        .render(&mut roff)
        .context("cannot render the manual page")?;
    write_stdout(&String::from_utf8_lossy(&roff));
    Ok(exit::OK)
}
