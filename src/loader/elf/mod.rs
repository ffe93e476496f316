//! ELF64 images given as bytes: one reader (`image`: the validated header,
//! the program, section and dynamic tables, the dynamic symbols) and the
//! pre-`dlopen` check built on it ([`check_image`]).

mod check;
pub(crate) mod image;

pub use check::check_image;
