//! Thread-local record of the last failure on the calling thread.
//!
//! The slot is a fixed-size buffer in a `const`-initialised thread-local of a
//! type without `Drop`: no thread-local destructor is registered for it, so it
//! stays readable and writable for the whole life of the thread, including
//! `atexit` handlers, static destructors and `pthread_key_create` destructors
//! that run after the thread's other thread-locals were destroyed. Every access
//! is non-panicking (`try_with` + `try_borrow_mut`); when the slot cannot be
//! reached the record is skipped (the call still returns its error code).
//!
//! Messages longer than [`MESSAGE_CAPACITY`]` - 1` bytes are cut at a UTF-8
//! boundary and end in [`TRUNCATION_MARK`].

use std::cell::RefCell;
use std::os::raw::c_char;

use super::codes::ErrorCode;
use super::error::Error;

/// Bytes of the message buffer, terminating NUL included.
pub const MESSAGE_CAPACITY: usize = 4096;
/// Suffix of a message that did not fit.
pub const TRUNCATION_MARK: &str = " [message truncated]";

struct Slot {
    code: i32,
    /// Message bytes before the NUL at `buf[len]`.
    len: usize,
    buf: [u8; MESSAGE_CAPACITY],
}

impl Slot {
    const EMPTY: Slot = Slot { code: 0, len: 0, buf: [0; MESSAGE_CAPACITY] };

    fn store(&mut self, code: i32, message: &str) {
        self.code = code;
        let limit = MESSAGE_CAPACITY - 1;
        let mut written = 0;
        let mut push = |bytes: &[u8], buf: &mut [u8; MESSAGE_CAPACITY]| {
            let n = bytes.len().min(limit - written);
            buf[written..written + n].copy_from_slice(&bytes[..n]);
            written += n;
        };
        // Interior NULs would end the C string early: spell them out.
        let escaped;
        let text = if message.contains('\0') {
            escaped = message.replace('\0', "\\0");
            escaped.as_str()
        } else {
            message
        };
        if text.len() <= limit {
            push(text.as_bytes(), &mut self.buf);
        } else {
            let mut cut = limit - TRUNCATION_MARK.len();
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            push(&text.as_bytes()[..cut], &mut self.buf);
            push(TRUNCATION_MARK.as_bytes(), &mut self.buf);
        }
        self.len = written;
        self.buf[written] = 0;
    }

    fn text(&self) -> &str {
        // Only whole UTF-8 text is ever stored (cut at char boundaries).
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

thread_local! {
    static LAST: RefCell<Slot> = const { RefCell::new(Slot::EMPTY) };
}

/// Runs `f` on the calling thread's slot; `None` when it cannot be reached
/// (never panics).
fn with_slot<R>(f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
    LAST.try_with(|l| l.try_borrow_mut().ok().map(|mut s| f(&mut s))).ok().flatten()
}

/// Records `err` as the calling thread's last error.
pub fn set(err: &Error) {
    set_raw(err.api_code(), &err.to_string());
}

/// Records a code and message directly.
pub fn set_raw(code: i32, message: &str) {
    with_slot(|s| s.store(code, message));
}

/// Clears the calling thread's last error.
pub fn clear() {
    with_slot(|s| s.store(ErrorCode::PtoOk as i32, ""));
}

/// The last error code on this thread (0 if the last call succeeded).
pub fn code() -> i32 {
    with_slot(|s| s.code).unwrap_or(0)
}

/// The last error message on this thread ("" if none).
pub fn message() -> String {
    with_slot(|s| s.text().to_owned()).unwrap_or_default()
}

/// Pointer to the thread-local NUL-terminated message; valid on this thread
/// until the next call that sets or clears the last error.
pub fn message_ptr() -> *const c_char {
    with_slot(|s| s.buf.as_ptr() as *const c_char).unwrap_or(c"".as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_read_and_clear() {
        set_raw(-7, "bad knob");
        assert_eq!(code(), -7);
        assert_eq!(message(), "bad knob");
        // SAFETY: message_ptr points at a NUL-terminated buffer of this thread.
        let c = unsafe { std::ffi::CStr::from_ptr(message_ptr()) };
        assert_eq!(c.to_str().unwrap(), "bad knob");
        clear();
        assert_eq!(code(), 0);
        assert_eq!(message(), "");
    }

    #[test]
    fn long_message_is_cut_at_a_char_boundary_and_marked() {
        let long = "é".repeat(MESSAGE_CAPACITY); // 2 bytes per char
        set_raw(-3, &long);
        let m = message();
        assert!(m.len() < MESSAGE_CAPACITY, "{}", m.len());
        assert!(m.ends_with(TRUNCATION_MARK));
        assert!(m.starts_with("éé"));
        // SAFETY: as above.
        let c = unsafe { std::ffi::CStr::from_ptr(message_ptr()) };
        assert_eq!(c.to_bytes().len(), m.len());
    }

    #[test]
    fn interior_nul_is_spelled_out() {
        set_raw(-2, "a\0b");
        assert_eq!(message(), "a\\0b");
    }

    #[test]
    fn slot_is_usable_from_a_thread_local_destructor() {
        // PROBE's destructor is registered before the slot is first used, so
        // it runs after every later-registered thread-local destructor: a
        // slot with a destructor would already be gone (and `with` panic).
        struct Probe;
        impl Drop for Probe {
            fn drop(&mut self) {
                set_raw(-9, "from a destructor");
                let ok = code() == -9 && message() == "from a destructor";
                RESULT.store(if ok { 1 } else { 2 }, std::sync::atomic::Ordering::SeqCst);
            }
        }
        static RESULT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        thread_local! { static PROBE: RefCell<Option<Probe>> = const { RefCell::new(None) }; }
        std::thread::spawn(|| {
            PROBE.with(|p| *p.borrow_mut() = Some(Probe));
            clear();
        })
        .join()
        .unwrap();
        assert_eq!(RESULT.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
