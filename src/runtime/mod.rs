//! Runtime variants executed on the simulated device.

pub mod trb;
