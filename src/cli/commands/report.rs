//! `pinscope report`: re-render saved results (a `--format json` document or `--format jsonl`
//! lines) in another format, without probing; the exit code is the one the audit had.

use std::io::Read as _;

use anyhow::Context as _;

use super::super::args::ReportArgs;
use super::export::read_saved;
use crate::report::Format;
use crate::run::output::Output;
use crate::run::plan::OutputPlan;

pub fn run(args: &ReportArgs) -> anyhow::Result<u8> {
    let saved = read_saved(&args.results)?;
    let code = saved.exit_code();
    crate::report::table::expand_variants(args.table.expand);
    match args.output.format {
        Format::Json | Format::Jsonl => {
            let mut text = Vec::new();
            if args.output.format == Format::Json {
                saved.write_json(&mut text)?;
            } else {
                saved.write_jsonl(&mut text)?;
            }
            let output = Output::open(args.output.output.as_deref())?;
            output.write(&String::from_utf8_lossy(&text))?;
        }
        format => {
            let opened = super::open(&OutputPlan {
                format,
                path: args.output.output.clone(),
            })?;
            opened.finish(&saved.run());
        }
    }
    Ok(code)
}

/// A saved report's text: the file, or standard input for `-`.
pub fn read_text(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    }
}
