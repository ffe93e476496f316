//! Runtime variants executed on the simulated device.

pub mod hbg;
pub mod trb;
