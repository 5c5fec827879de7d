//! pinscope: does the TLS that Apple devices and MDM agents depend on leave this network untouched?
//!
//! The crate is split by concern. [`catalog`] is data: the hosts Apple and the MDM vendors say devices
//! must reach. [`probe`] is the only part that touches the network: it captures what each target
//! presents. [`analysis`] is pure: a captured chain, the expectations for its host and a point in time go
//! in, a verdict with findings comes out. [`report`] renders results; [`cli`] wires the pieces together
//! and is the only place that reads the clock or the environment.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod apple_store;
pub mod baseline;
pub mod catalog;
pub mod cli;
pub mod der;
pub mod export;
pub mod fuzzing;
pub mod observation;
pub mod probe;
pub mod report;
pub mod target;
