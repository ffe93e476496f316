//! A hint to the cache: fetch a line the calling thread will soon write.
//!
//! The orchestrator writes the slot, descriptor and payload of every task
//! it allocates. At the default windows (16384 per ring) the slot and
//! descriptor lines were last touched a whole window ago, usually by a
//! scheduler core, and the payload lines were last read by one, so each
//! write waits for its line to come back (or for the other core's copy to
//! be invalidated). A prefetch a few tasks ahead lets that transfer overlap
//! the submissions in between (see `RingShared::prefetch_ahead`).

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// Asks for the cache lines holding each of `lines` with intent to write:
/// `prefetchw` (a line arrives exclusive, so the later store needs no
/// second transfer) where the CPU has it, else `prefetcht0`. A hint only:
/// it never faults and reads or writes nothing the program can observe,
/// whatever the addresses (dangling, unmapped, NULL). One call for all the
/// lines of a step: the CPU check is made once.
#[inline(always)]
pub(crate) fn prefetch_write<const N: usize>(lines: [*const u8; N]) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_prefetchw() {
            for p in lines {
                // SAFETY: the CPU reports PREFETCHW (CPUID 0x8000_0001 ECX
                // bit 8, checked by `has_prefetchw`); a prefetch never
                // faults and has no architectural effect, whatever the
                // address; it touches no stack or flags (the options say so).
                unsafe { std::arch::asm!("prefetchw [{0}]", in(reg) p, options(nostack, preserves_flags, readonly)) };
            }
        } else {
            lines.into_iter().for_each(prefetch_read);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = lines;
}

/// Asks for the cache line holding `p` for reading (`prefetcht0`); a hint
/// only, like [`prefetch_write`].
#[inline(always)]
pub(crate) fn prefetch_read<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as the fallback in `prefetch_write`.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Whether the CPU has PREFETCHW, read once (0 not read yet, 1 no, 2 yes).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_prefetchw() -> bool {
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Relaxed) {
        0 => {
            let yes = cpu_has_prefetchw();
            STATE.store(if yes { 2 } else { 1 }, Relaxed);
            yes
        }
        s => s == 2,
    }
}

#[cfg(target_arch = "x86_64")]
#[cold]
fn cpu_has_prefetchw() -> bool {
    use std::arch::x86_64::__cpuid;
    // Leaf 0x8000_0001 exists when the highest extended leaf reaches it;
    // its ECX bit 8 is PRFCHW (Intel) / 3DNowPrefetch (AMD): PREFETCHW.
    // (CPUID exists on every x86-64 CPU, so `__cpuid` is a safe call.)
    let max_ext = __cpuid(0x8000_0000).eax;
    max_ext >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 8) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_any_address_is_harmless_and_the_cpu_answer_is_stable() {
        let v = [7u64; 16];
        for p in [v.as_ptr(), std::ptr::null(), usize::MAX as *const u64, std::ptr::dangling::<u64>()] {
            prefetch_write([p.cast::<u8>(), p.cast::<u8>().wrapping_add(64)]);
            prefetch_read(p);
        }
        assert_eq!(v, [7u64; 16]);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(has_prefetchw(), cpu_has_prefetchw());
    }
}
