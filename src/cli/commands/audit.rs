//! `pinscope audit`: probe the catalog (or the given targets) and judge every chain.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::super::args::AuditArgs;
use super::super::plan;
use crate::report::{TargetResult, export, table};
use crate::run::{self, ResultSink};

pub fn run(args: &AuditArgs) -> anyhow::Result<u8> {
    let plan = plan::audit(args, true)?;
    table::expand_variants(args.table.expand);
    if let Some(dir) = &args.save_chains {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut opened = super::open(&plan.output)?;
    let report = match &args.save_chains {
        None => run::audit(&plan, &mut opened.printout)?,
        Some(dir) => {
            let mut saver = ChainSaver {
                inner: &mut opened.printout,
                dir,
                failed: None,
            };
            let report = run::audit(&plan, &mut saver)?;
            // A sink that does not stream gets its results with the finished run.
            if !saver.streams() {
                for r in &report.results {
                    saver.save(r);
                }
            }
            if let Some(e) = saver.failed {
                eprintln!("pinscope: warning: {e:#}");
            }
            report
        }
    };
    Ok(opened.finish(&report))
}

/// Passes results on to the output and writes each one's chain to `dir` (`--save-chains`).
struct ChainSaver<'a> {
    inner: &'a mut dyn ResultSink,
    dir: &'a Path,
    /// The first chain that could not be written (the rest are still tried).
    failed: Option<anyhow::Error>,
}

impl ChainSaver<'_> {
    fn save(&mut self, result: &TargetResult) {
        let Some((name, pem)) = export::chain_pem(result) else {
            return;
        };
        let path: PathBuf = self.dir.join(name);
        if let Err(e) = std::fs::write(&path, pem)
            && self.failed.is_none()
        {
            let what = format!("--save-chains: cannot write {}", path.display());
            self.failed = Some(anyhow::Error::new(e).context(what));
        }
    }
}

impl ResultSink for ChainSaver<'_> {
    fn streams(&self) -> bool {
        self.inner.streams()
    }

    fn target(&mut self, result: &TargetResult) {
        self.save(result);
        self.inner.target(result);
    }
}
