//! What stops a run, and what bounds it: SIGINT, SIGTERM and the run's deadline trigger the
//! probes' [`Stop`]; the open-file limit caps how many probes are in flight.

use std::time::Duration;

use crate::model::observation::StopReason;
use crate::probe::Stop;
use crate::report::exit;

/// Starts the tasks that stop the run: SIGINT and SIGTERM (a second one exits at once with 130),
/// and the run's deadline. Must be called inside the runtime; abort the handles when the run ends.
pub fn watch_for_stop(stop: &Stop, deadline: Option<Duration>) -> Vec<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut watchers = Vec::new();
    let (interrupt, terminate) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    if let (Ok(mut interrupt), Ok(mut terminate)) = (interrupt, terminate) {
        let stop = stop.clone();
        watchers.push(tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            stop.trigger(StopReason::Interrupted);
            // Writing the report takes moments; a second signal means "now".
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            // Leave no progress bar behind on the terminal.
            super::progress::clear_line();
            std::process::exit(i32::from(exit::INTERRUPTED));
        }));
    }
    watchers.extend(watch_deadline(stop, deadline));
    watchers
}

/// Starts the task that stops the run when its deadline passes (none without one). Must be called
/// inside the runtime; abort the handles when the run ends.
pub fn watch_deadline(stop: &Stop, deadline: Option<Duration>) -> Vec<tokio::task::JoinHandle<()>> {
    deadline
        .map(|deadline| {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(deadline).await;
                stop.trigger(StopReason::Deadline);
            })
        })
        .into_iter()
        .collect()
}

/// Open files each probe may hold at once: its connection, and a DNS socket with `--dns-server`.
const FDS_PER_PROBE: u64 = 2;
/// Open files kept back from probes: standard streams, the runtime, the output file, and the
/// revocation fetches (up to `pipeline::FETCH_BATCHES` batches of 16) that run beside the probes.
const FD_HEADROOM: u64 = 128;

/// Raises the soft open-file limit to the hard one and lowers `requested` so that the probes in
/// flight cannot run out of file descriptors, saying so on standard error when it does.
pub fn fd_capped_concurrency(requested: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        // No limit to read (or to raise): nothing to cap by.
        Err(_) => return requested,
    };
    let headroom = FD_HEADROOM.min(limit / 2);
    let cap = usize::try_from((limit - headroom) / FDS_PER_PROBE)
        .unwrap_or(usize::MAX)
        .max(1);
    if requested > cap {
        eprintln!(
            "pinscope: note: probing {cap} targets at once instead of {requested}: the open-file \
             limit is {limit} (ulimit -n)"
        );
        cap
    } else {
        requested
    }
}
