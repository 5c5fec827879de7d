//! pinscope: does the TLS that Apple devices and MDM agents depend on leave this network untouched?
//!
//! The crate is built in layers. Each uses only the layers below it, never one beside or above it
//! (`python3 tools/layers.py` checks this; docs/architecture.md walks through it):
//!
//! ```text
//!  cli          flags → a resolved plan; one file per command; exit codes     (fuzzing: fuzz entry points)
//!   │
//!  serve        the Prometheus exporter: scheduled audits of a plan, HTTP endpoints, signals
//!   │
//!  run          plan in → probe → fetch revocation → judge → results streamed to a sink
//!   │
//!  report       renderers: printers behind one trait, the JSON wire types, saved reports read back
//!   │
//!  probe │ analysis    mechanism: moves bytes, judges nothing │ policy: pure, no I/O, no clock
//!   │
//!  catalog, apple_store, input, der, pac    data: the catalog, Apple's trust store, files users hand over, DER, PAC
//!   │
//!  model        targets, catalog rows, observations, findings and verdicts, the baseline file format
//! ```
//!
//! [`model`] is plain data that every other layer speaks. [`catalog`] and [`apple_store`] are the
//! embedded data (with their loaders); [`input`] reads the files a user hands over. [`probe`] is
//! the only part that touches the network: it turns targets into observations. [`analysis`] is
//! pure: an observation, the trust stores and a point in time go in, a verdict with findings comes
//! out. [`report`] renders results and reads saved ones back. [`run`] executes a plan: the async
//! runtime, signals, progress and output all live there, so a long-running mode can reuse it.
//! [`serve`] is such a mode: a Prometheus exporter that audits on a schedule and serves the results.
//! [`cli`] is the only place that reads flags and the environment.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod apple_store;
pub mod catalog;
pub mod cli;
pub mod der;
pub mod fuzzing;
pub mod input;
pub mod model;
pub mod pac;
pub mod probe;
pub mod report;
pub mod run;
pub mod serve;
