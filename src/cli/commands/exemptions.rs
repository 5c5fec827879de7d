//! `pinscope exemptions check`: a team's own exemption list, checked against the catalog rows
//! the selection keeps.

use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};

use super::super::args::{ExemptionsAction, ExemptionsArgs, ExemptionsCheckArgs};
use super::super::plan;
use crate::analysis::exemptions;
use crate::input::exemptions as list;
use crate::report::{exemptions as render, exit};
use crate::run::output::Output;

/// How long the whole check may take. The PAC engine bounds each loop and the recursion, but
/// loops nested inside loops can still run for hours: past this, the check gives up (exit 2).
const CHECK_DEADLINE: Duration = Duration::from_secs(30);

pub fn run(args: &ExemptionsArgs) -> anyhow::Result<u8> {
    match &args.action {
        ExemptionsAction::Check(a) => check(a),
    }
}

fn check(args: &ExemptionsCheckArgs) -> anyhow::Result<u8> {
    let (catalog, filter) = plan::catalog_rows(&args.selection)?;
    let read = list::read(&args.file, args.format)?;
    let shown = read.file.clone();
    let is_pac = matches!(read.kind, list::ListKind::Pac(_));
    // Judged on a thread of its own, so that a PAC that never returns cannot hold the command.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let selected: Vec<_> = catalog.rows.iter().filter(|r| filter.matches(r)).collect();
        let _ = tx.send(exemptions::check(&read, &selected, &catalog.rows));
    });
    let result = match rx.recv_timeout(CHECK_DEADLINE) {
        Ok(result) => result.with_context(|| format!("{shown}: the PAC cannot be evaluated"))?,
        Err(mpsc::RecvTimeoutError::Timeout) if is_pac => {
            return Err(anyhow!(
                "{shown}: the PAC did not answer within {}s",
                CHECK_DEADLINE.as_secs()
            ));
        }
        Err(_) => return Err(anyhow!("{shown}: the check did not finish")),
    };
    let output = Output::open(args.output.as_deref())?;
    output.write(&render::render(&result, args.output_format))?;
    Ok(if result.missing().next().is_some() {
        exit::INTERCEPTED
    } else {
        exit::OK
    })
}
