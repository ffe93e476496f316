//! Log sink. Messages go to stderr in upstream's format
//! `[YYYY-mm-dd HH:MM:SS.uuuuuu][T0x<thread>][<TAG>] <func>: <message>`.
//! The threshold comes from `SIMPLER_LOG_LEVEL` (debug, info, warn, error,
//! off; default warn), read once.

use once_cell::sync::Lazy;
use std::io::Write;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Verbose detail.
    Debug = 0,
    /// Progress information.
    Info = 1,
    /// Something was ignored or looks wrong.
    Warn = 2,
    /// A failure.
    Error = 3,
    /// Nothing is printed.
    Off = 4,
}

static THRESHOLD: Lazy<Level> = Lazy::new(|| match std::env::var("SIMPLER_LOG_LEVEL").ok().as_deref().map(str::trim) {
    Some("debug") | Some("0") => Level::Debug,
    Some("info") | Some("1") => Level::Info,
    Some("error") | Some("3") => Level::Error,
    Some("off") | Some("4") => Level::Off,
    _ => Level::Warn,
});

/// Whether `level` passes the threshold.
pub fn enabled(level: Level) -> bool {
    level >= *THRESHOLD && *THRESHOLD != Level::Off
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    let mut tm: libc::tm = unsafe {
        // SAFETY: libc::tm is a plain C struct; all-zero is a valid value.
        std::mem::zeroed()
    };
    // SAFETY: both pointers reference live stack values for the call.
    unsafe { libc::gmtime_r(&secs, &mut tm) };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_micros()
    )
}

/// Writes one line if `level` is enabled; `tag` overrides the level name.
pub fn write(level: Level, tag: &str, func: &str, message: &str) {
    if !enabled(level) {
        return;
    }
    // SAFETY: pthread_self has no preconditions.
    let tid = unsafe { libc::pthread_self() } as u64;
    let line = format!("[{}][T0x{:x}][{}] {}: {}\n", timestamp(), tid, tag, func, message.trim_end_matches('\n'));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Logs a warning.
pub fn warn(func: &str, message: &str) {
    write(Level::Warn, "WARN", func, message);
}

/// Logs an error.
pub fn error(func: &str, message: &str) {
    write(Level::Error, "ERROR", func, message);
}

/// Logs an info line.
pub fn info(func: &str, message: &str) {
    write(Level::Info, "INFO", func, message);
}

/// Logs a debug line.
pub fn debug(func: &str, message: &str) {
    write(Level::Debug, "DEBUG", func, message);
}
