//! Checks of user-supplied binaries before the system loader sees them.
//! A shared object given as bytes (kernel, orchestration) is validated here
//! so that a short or corrupt image is a clear error, never a loader crash;
//! `temp_so` then loads it from bytes (kernels and orchestrations alike).

pub mod elf;
pub(crate) mod example_sos;
pub(crate) mod temp_so;

#[cfg(test)]
pub(crate) mod testutil;
