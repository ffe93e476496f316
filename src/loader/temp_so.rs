//! Loading a shared object from bytes: each load writes a fresh, uniquely
//! named temporary file (so every load gets its own copy of the object's
//! globals), `dlopen`s it and unlinks it right away.

use std::ffi::{c_int, c_void, CString, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::FromRawFd;
use std::path::PathBuf;

use libloading::os::unix::Library;

use crate::diagnostics::{Error, Result};

/// Checks `bytes` with [`crate::loader::elf::check_image`], writes them to
/// `<temp dir>/<prefix>XXXXXX` (mode 0755), `dlopen`s it
/// with `flags`, and removes the file whatever the outcome. `what` names the
/// object in error messages.
pub(crate) fn dlopen_bytes(bytes: &[u8], prefix: &str, flags: c_int, what: &str) -> Result<Library> {
    if bytes.is_empty() {
        return Err(Error::Load(format!("{what}: the shared object is empty")));
    }
    // A short or corrupt image would fault inside the system loader.
    crate::loader::elf::check_image(bytes, what)?;
    let template = std::env::temp_dir().join(format!("{prefix}XXXXXX"));
    let template = CString::new(template.as_os_str().as_bytes())
        .map_err(|_| Error::Load(format!("{what}: temporary path contains NUL")))?;
    let mut raw = template.into_bytes_with_nul();
    // SAFETY: `raw` is a writable, NUL-terminated buffer ending in "XXXXXX"
    // as mkstemp requires; mkstemp rewrites those six bytes in place.
    let fd = unsafe { libc::mkstemp(raw.as_mut_ptr().cast()) };
    if fd < 0 {
        return Err(Error::Load(format!(
            "{what}: cannot create a temporary file in {}: {}",
            std::env::temp_dir().display(),
            std::io::Error::last_os_error()
        )));
    }
    raw.pop();
    let path = PathBuf::from(OsString::from_vec(raw));
    // SAFETY: mkstemp returned a fresh, open descriptor owned by nobody else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(0o755)))
        .and_then(|()| file.flush());
    drop(file);
    let result = match written {
        Err(e) => Err(Error::Load(format!("{what}: cannot write {}: {e}", path.display()))),
        // SAFETY: loading runs the object's initialisers; the bytes are
        // user-supplied code that the runtime is asked to execute by design.
        Ok(()) => {
            unsafe { Library::open(Some(&path), flags) }.map_err(|e| Error::Load(format!("{what}: dlopen failed: {e}")))
        }
    };
    let _ = std::fs::remove_file(&path);
    result
}

/// Looks up `name` in `lib`; `None` when absent or NULL.
pub(crate) fn lookup(lib: &Library, name: &str) -> Option<*mut c_void> {
    let cname = CString::new(name).ok()?;
    // SAFETY: the symbol is read as an opaque data pointer, which is valid
    // for any symbol type; it is only used while `lib` stays loaded.
    let sym = unsafe { lib.get::<*mut c_void>(cname.as_bytes_with_nul()) }.ok()?;
    let p = *sym;
    (!p.is_null()).then_some(p)
}
