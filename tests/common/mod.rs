//! Test support shared by the integration tests, one module a concept: lab PKIs made with rcgen
//! ([`pki`]), TLS servers and listeners that misbehave the ways networks do ([`servers`]), HTTP
//! servers and proxies ([`http`]), squid run for real ([`proxies`]), UDP services ([`udp`]), the shared labs ([`lab`]), running the
//! built binary ([`run`]), reading its JSON reports ([`json`]), and what a test needs from the
//! machine ([`tools`]). Everything is re-exported here, so a test says `use common::*;`.
//!
//! Each test binary compiles this module on its own and uses a part of it: hence `dead_code` and
//! `unused_imports` (for the re-exports).
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

pub mod http;
pub mod json;
pub mod lab;
pub mod pki;
pub mod proxies;
pub mod run;
pub mod servers;
pub mod tools;
pub mod udp;

pub use http::*;
pub use json::*;
pub use lab::*;
pub use pki::*;
pub use proxies::*;
pub use run::*;
pub use servers::*;
pub use tools::*;
pub use udp::*;
