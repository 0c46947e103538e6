//! The `custody` binary: parse, dispatch, map the outcome to an exit code.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(custody::cli::main());
}
