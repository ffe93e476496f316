//! `PtoRunTiming`: the timing record `run_prepared` fills on success.

/// Wall-clock timing of one `run_prepared` call (`PtoRunTiming` in C, 16 B, align 8).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PtoRunTiming {
    /// Host wall time of the whole call, in nanoseconds (steady clock).
    pub host_wall_ns: u64,
    /// Wall time the (simulated) device spent executing, in nanoseconds.
    pub device_wall_ns: u64,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<PtoRunTiming>() == 16);
    assert!(align_of::<PtoRunTiming>() == 8);
    assert!(offset_of!(PtoRunTiming, host_wall_ns) == 0);
    assert!(offset_of!(PtoRunTiming, device_wall_ns) == 8);
};

// SAFETY: PtoRunTiming is repr(C) with two u64 fields and no padding; every
// bit pattern is valid.
unsafe impl bytemuck::Zeroable for PtoRunTiming {}
// SAFETY: as above: plain integers, no padding, any bit pattern is valid.
unsafe impl bytemuck::Pod for PtoRunTiming {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_bytes_are_host_then_device() {
        let t = PtoRunTiming { host_wall_ns: 0x0102_0304_0506_0708, device_wall_ns: 0x1112_1314_1516_1718 };
        let bytes = bytemuck::bytes_of(&t);
        assert_eq!(&bytes[..8], &0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(&bytes[8..], &0x1112_1314_1516_1718u64.to_ne_bytes());
        assert_eq!(PtoRunTiming::default(), PtoRunTiming { host_wall_ns: 0, device_wall_ns: 0 });
    }
}
