//! The `pinscope` binary: everything lives in the library; this only hands over the arguments.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    pinscope::cli::main()
}
