//! Checks of user-supplied binaries before the system loader sees them.
//! A shared object given as bytes (kernel, orchestration) is validated here
//! so that a short or corrupt image is a clear error, never a loader crash.

pub mod elf;
