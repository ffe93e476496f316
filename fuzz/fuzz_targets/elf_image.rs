//! Fuzz target `elf_image`: the ELF pre-check run before every `dlopen`
//! (`simpler::loader::elf::check_image`).
//!
//! Input: raw file bytes. Checks: a refusal is `PTO_ERR_INVALID_BINARY` and its
//! message names the binary; the verdict is deterministic; an accepted image is
//! at least an ELF header long and starts with the ELF magic; any proper
//! prefix cut inside the header of an accepted image is refused.
#![cfg_attr(fuzzing, no_main)]

use simpler::loader::elf::check_image;
use simpler::ErrorCode;

/// Runs one input; panics on any broken property.
pub fn run(data: &[u8]) {
    accepts(data);
}

/// Runs one input (panics on any broken property); whether it was accepted.
pub fn accepts(data: &[u8]) -> bool {
    let verdict = check_image(data, "fuzz input");
    assert_eq!(verdict.is_ok(), check_image(data, "fuzz input").is_ok(), "check_image is not deterministic");
    match verdict {
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::PtoErrInvalidBinary, "unexpected error kind: {e}");
            assert!(e.to_string().contains("fuzz input"), "the message does not name the binary: {e}");
            false
        }
        Ok(()) => {
            assert!(data.len() >= 64 && data.starts_with(b"\x7fELF"), "accepted a non-ELF input");
            for cut in [0, 1, 4, 16, 63] {
                assert!(check_image(&data[..cut], "fuzz input").is_err(), "accepted a {cut}-byte prefix");
            }
            true
        }
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
