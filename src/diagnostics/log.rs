//! Log sink. By default messages go to stderr in upstream's format
//! `[YYYY-mm-dd HH:MM:SS.uuuuuu][T0x<thread>][<TAG>] <component>: <message>`;
//! [`set_callback`] routes them to a function instead.
//!
//! The threshold is [`set_level`]'s, else `SIMPLER_LOG_LEVEL` (off, error,
//! warn, info, debug, trace; any case, surrounding whitespace ignored; read
//! once, at the first message), else `warn`.
//!
//! A callback never runs while the library holds a lock a re-entrant call
//! could need: messages emitted inside a [`Defer`] scope (every device-context
//! lock holds one), or on any thread while such a scope is active anywhere
//! (a run's scheduler threads), are queued, in order, and delivered by the
//! next thread that leaves its outermost scope (after releasing the lock), or
//! by the emitting thread once no scope is active. A message the library
//! emits while a callback runs on the same thread goes to stderr (no
//! recursion). Panics in formatting or in a Rust callback are caught here.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Severity of a log line, and the threshold (a message passes when its
/// level is at most the threshold; `Off` passes nothing).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Nothing (threshold only).
    Off = 0,
    /// A failure.
    Error = 1,
    /// Something was ignored or looks wrong.
    Warn = 2,
    /// Progress information.
    Info = 3,
    /// Lifecycle detail (init, prepare, resolved configuration, run summary).
    Debug = 4,
    /// Everything.
    Trace = 5,
}

/// Every level, in numeric order.
pub const LEVELS: [Level; 6] = [Level::Off, Level::Error, Level::Warn, Level::Info, Level::Debug, Level::Trace];

/// The accepted spellings of `SIMPLER_LOG_LEVEL` (any case).
pub const LEVEL_NAMES_TEXT: &str = "off, error, warn (or warning), info, debug, trace";

impl Level {
    /// Lower-case name (`"warn"`).
    pub fn name(self) -> &'static str {
        ["off", "error", "warn", "info", "debug", "trace"][self as usize]
    }
    /// Tag in stderr lines (`"WARN"`).
    pub fn tag(self) -> &'static str {
        ["OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"][self as usize]
    }
    /// Decodes the numeric value (0..=5).
    pub fn from_i32(v: i32) -> Option<Level> {
        usize::try_from(v).ok().and_then(|i| LEVELS.get(i).copied())
    }
    /// Parses a level name, case-insensitively, ignoring surrounding ASCII whitespace.
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim_matches(|c: char| c.is_ascii_whitespace()).to_ascii_lowercase().as_str() {
            "off" => Some(Level::Off),
            "error" => Some(Level::Error),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            "trace" => Some(Level::Trace),
            _ => None,
        }
    }
}

/// A message receiver: `(level, component, message)`. It may be called from
/// any library thread, also concurrently.
pub type Callback = dyn Fn(Level, &str, &str) + Send + Sync;

const UNREAD: i32 = -1;
static THRESHOLD: AtomicI32 = AtomicI32::new(UNREAD);
static CALLBACK: RwLock<Option<Arc<Callback>>> = RwLock::new(None);
static QUEUE: Mutex<VecDeque<(Level, String, String)>> = Mutex::new(VecDeque::new());
/// Number of live [`Defer`] scopes in the process.
static DEFERRING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

fn threshold() -> Level {
    let t = THRESHOLD.load(Ordering::Relaxed);
    if t != UNREAD {
        return Level::from_i32(t).unwrap_or(Level::Warn);
    }
    let raw = std::env::var_os("SIMPLER_LOG_LEVEL").map(|v| v.to_string_lossy().into_owned());
    let parsed = raw.as_deref().map(Level::parse);
    let level = parsed.flatten().unwrap_or(Level::Warn);
    // A concurrent set_level wins over the environment.
    let won = THRESHOLD.compare_exchange(UNREAD, level as i32, Ordering::Relaxed, Ordering::Relaxed).is_ok();
    if won {
        if let (Some(text), Some(None)) = (raw, parsed) {
            warn(
                "log",
                &format!(
                    "ignoring SIMPLER_LOG_LEVEL=\"{text}\": must be one of {LEVEL_NAMES_TEXT} (any case); using warn"
                ),
            );
        }
    }
    Level::from_i32(THRESHOLD.load(Ordering::Relaxed)).unwrap_or(Level::Warn)
}

/// The current threshold.
pub fn level() -> Level {
    threshold()
}

/// Sets the threshold (overrides `SIMPLER_LOG_LEVEL`).
pub fn set_level(level: Level) {
    THRESHOLD.store(level as i32, Ordering::Relaxed);
}

/// Routes messages to `callback` (`None` restores stderr).
pub fn set_callback(callback: Option<Arc<Callback>>) {
    *CALLBACK.write().unwrap_or_else(|p| p.into_inner()) = callback;
}

fn current_callback() -> Option<Arc<Callback>> {
    CALLBACK.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Whether `level` passes the threshold.
pub fn enabled(level: Level) -> bool {
    level != Level::Off && level <= threshold()
}

/// While alive, messages for a callback are queued (see the module docs).
/// Declare it before the lock guard it covers so it drops after it.
pub struct Defer(());

impl Defer {
    /// Opens a deferral scope on this thread.
    pub fn new() -> Defer {
        DEFERRING.fetch_add(1, Ordering::SeqCst);
        let _ = DEPTH.try_with(|d| d.set(d.get() + 1));
        Defer(())
    }
}

impl Default for Defer {
    fn default() -> Self {
        Defer::new()
    }
}

impl Drop for Defer {
    fn drop(&mut self) {
        let outer = DEPTH.try_with(|d| {
            let n = d.get().saturating_sub(1);
            d.set(n);
            n == 0
        });
        DEFERRING.fetch_sub(1, Ordering::SeqCst);
        if outer.unwrap_or(true) {
            flush();
        }
    }
}

fn thread_depth() -> u32 {
    DEPTH.try_with(Cell::get).unwrap_or(0)
}

fn in_callback() -> bool {
    IN_CALLBACK.try_with(Cell::get).unwrap_or(true)
}

/// Delivers queued messages on the calling thread, unless it is inside a
/// [`Defer`] scope or a callback (the callback's caller delivers them). A
/// thread outside any scope holds no library lock, so delivering here is safe
/// even while other threads hold scopes: a callback that re-enters a busy
/// context merely waits for it.
pub fn flush() {
    if thread_depth() > 0 || in_callback() {
        return;
    }
    loop {
        let next = QUEUE.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        let Some((level, component, message)) = next else { return };
        match current_callback() {
            Some(cb) => deliver(&cb, level, &component, &message),
            None => to_stderr(level, &component, &message),
        }
    }
}

fn deliver(cb: &Arc<Callback>, level: Level, component: &str, message: &str) {
    let _ = IN_CALLBACK.try_with(|f| f.set(true));
    let _ = catch_unwind(AssertUnwindSafe(|| cb(level, component, message)));
    let _ = IN_CALLBACK.try_with(|f| f.set(false));
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

fn to_stderr(level: Level, component: &str, message: &str) {
    // SAFETY: pthread_self has no preconditions.
    let tid = unsafe { libc::pthread_self() } as u64;
    let line = format!("[{}][T0x{:x}][{}] {}: {}\n", timestamp(), tid, level.tag(), component, message);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Emits one message if `level` passes the threshold.
pub fn write(level: Level, component: &str, message: &str) {
    if !enabled(level) {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let message = message.trim_end_matches('\n');
        match current_callback() {
            Some(cb) if !in_callback() => {
                // Inside a scope, or on any thread while a scope is active
                // (e.g. a scheduler thread of a run holding a context lock).
                if thread_depth() > 0 || DEFERRING.load(Ordering::SeqCst) > 0 {
                    QUEUE.lock().unwrap_or_else(|p| p.into_inner()).push_back((
                        level,
                        component.to_string(),
                        message.to_string(),
                    ));
                    // The last scope may have ended between the check and the push.
                    if DEFERRING.load(Ordering::SeqCst) == 0 {
                        flush();
                    }
                } else {
                    deliver(&cb, level, component, message);
                    // Messages the callback's own library calls queued.
                    flush();
                }
            }
            _ => to_stderr(level, component, message),
        }
    }));
}

/// Logs an error.
pub fn error(component: &str, message: &str) {
    write(Level::Error, component, message);
}

/// Logs a warning.
pub fn warn(component: &str, message: &str) {
    write(Level::Warn, component, message);
}

/// Logs an info line.
pub fn info(component: &str, message: &str) {
    write(Level::Info, component, message);
}

/// Logs a debug line.
pub fn debug(component: &str, message: &str) {
    write(Level::Debug, component, message);
}

/// Logs a trace line.
pub fn trace(component: &str, message: &str) {
    write(Level::Trace, component, message);
}

/// Serialises tests that change the process-wide threshold or callback.
#[cfg(test)]
pub(crate) static TEST_LOCK: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    type Seen = Arc<Mutex<Vec<(Level, String, String)>>>;

    fn capture() -> Seen {
        let seen: Seen = Arc::default();
        let s = seen.clone();
        set_callback(Some(Arc::new(move |l, c, m| {
            // Other tests of the crate log concurrently; keep only ours.
            if c == "t" {
                s.lock().unwrap().push((l, c.to_string(), m.to_string()));
            }
        })));
        seen
    }

    /// Waits (bounded) until `n` messages arrived: a scope of a concurrent
    /// test may hold queued messages back for a while.
    fn wait_for(seen: &Seen, n: usize) {
        let t0 = std::time::Instant::now();
        while seen.lock().unwrap().len() < n && t0.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn levels_parse_case_insensitively() {
        assert_eq!(Level::parse(" DeBuG "), Some(Level::Debug));
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("Trace"), Some(Level::Trace));
        assert_eq!(Level::parse("OFF"), Some(Level::Off));
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::parse("2"), None);
        for l in LEVELS {
            assert_eq!(Level::from_i32(l as i32), Some(l));
            assert_eq!(Level::parse(l.name()), Some(l));
        }
        assert_eq!(Level::from_i32(6), None);
        assert_eq!(Level::from_i32(-1), None);
    }

    #[test]
    fn threshold_filters_and_callback_receives() {
        let _g = TEST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let seen = capture();
        set_level(Level::Info);
        debug("t", "hidden");
        info("t", "shown\n");
        error("t", "bad");
        set_level(Level::Off);
        error("t", "off hides errors too");
        set_level(Level::Info);
        wait_for(&seen, 2);
        set_callback(None);
        set_level(Level::Warn);
        let got = seen.lock().unwrap().clone();
        assert_eq!(got, vec![(Level::Info, "t".into(), "shown".into()), (Level::Error, "t".into(), "bad".into())]);
    }

    #[test]
    fn deferred_messages_arrive_in_order_after_the_scope() {
        let _g = TEST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let seen = capture();
        set_level(Level::Debug);
        {
            let _outer = Defer::new();
            warn("t", "one");
            {
                let _inner = Defer::new();
                warn("t", "two");
            }
            // Another thread's message while a scope is active is queued too
            // (a concurrent test leaving its own scope may deliver the queue early).
            std::thread::spawn(|| warn("t", "three")).join().unwrap();
        }
        wait_for(&seen, 3);
        set_callback(None);
        set_level(Level::Warn);
        let got: Vec<String> = seen.lock().unwrap().iter().map(|m| m.2.clone()).collect();
        assert_eq!(got, ["one", "two", "three"]);
    }

    #[test]
    fn a_long_scope_elsewhere_does_not_hold_back_delivery() {
        let _g = TEST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let seen = capture();
        set_level(Level::Warn);
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _scope = Defer::new(); // e.g. a long run holding its context lock
            entered_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(std::time::Duration::from_secs(30));
        });
        entered_rx.recv().unwrap();
        {
            let _mine = Defer::new();
            warn("t", "while another scope is open");
        }
        wait_for(&seen, 1);
        let delivered = seen.lock().unwrap().len();
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        set_callback(None);
        assert_eq!(delivered, 1, "delivered while the other thread still held its scope");
    }

    #[test]
    fn reentrant_callback_does_not_deadlock_or_recurse() {
        let _g = TEST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        set_level(Level::Warn);
        set_callback(Some(Arc::new(move |_, comp, _| {
            if comp != "t" {
                return;
            }
            c.fetch_add(1, Ordering::SeqCst);
            // Re-entering the log API from a callback: level, a nested message
            // (goes to stderr), and replacing the callback itself.
            let _ = level();
            warn("nested", "from inside the callback (stderr)");
            set_level(Level::Warn);
        })));
        warn("t", "first");
        {
            let _d = Defer::new();
            warn("t", "second");
        }
        let t0 = std::time::Instant::now();
        while calls.load(Ordering::SeqCst) < 2 && t0.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        set_callback(None);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn panicking_callback_is_contained() {
        let _g = TEST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        set_level(Level::Warn);
        set_callback(Some(Arc::new(|_, _, _| panic!("callback panics"))));
        warn("t", "survives");
        set_callback(None);
        warn("t", "stderr again");
    }
}
