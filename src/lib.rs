//! pinscope: does the TLS that Apple devices and MDM agents depend on leave this network untouched?
#![forbid(unsafe_code)]

pub mod analysis;
pub mod apple_store;
pub mod catalog;
pub mod cli;

pub mod fuzzing;
pub mod input;
pub mod model;
pub mod probe;
pub mod report;
pub mod run;
