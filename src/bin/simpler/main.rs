//! `simpler`: command-line front end of libsimpler.
//!
//! Exit status: 0 success, 1 a failed run or check, 2 a usage error
//! (unknown command or argument, malformed value).

/// `print!` that ignores a closed stdout (`simpler stats x | head` must not panic).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// `println!` that ignores a closed stdout.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

mod cli;
mod commands;
mod stats;
mod svg;
mod trace;

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
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "simpler: {}", e.message);
            ExitCode::from(e.exit)
        }
    }
}
