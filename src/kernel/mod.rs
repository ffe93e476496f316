//! Sim kernel SOs (one per ChipCallable child) and the simulated-core
//! identity they read through `dlsym(RTLD_DEFAULT, …)`.

pub mod sim_context;
pub mod so;
pub mod table;

pub use so::KernelSo;
pub use table::KernelTable;

#[cfg(test)]
mod tests;
