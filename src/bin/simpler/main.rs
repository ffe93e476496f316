//! `simpler`: command-line front end of libsimpler.
//!
//! Exit status: 0 success, 1 a failed run or check, 2 a usage error
//! (unknown command or argument, malformed value).

mod cli;
mod commands;
mod stats;
mod svg;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `try_parse` reads the arguments as OsStrings: a non-UTF-8 argument is a
    // usage error, never a panic.
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simpler: {}", e.message);
            ExitCode::from(e.exit)
        }
    }
}
