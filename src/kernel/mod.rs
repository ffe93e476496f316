//! Sim kernel SOs (one per ChipCallable child) and the simulated-core
//! identity they read through `dlsym(RTLD_DEFAULT, …)`.

pub mod sim_context;
pub mod so;

pub use so::KernelSo;

#[cfg(test)]
mod tests;
