//! Table-driven tests of `assess`.
