//! Content hashing used for deduplication: FNV-1a 64 (kernel-image pool) and
//! the orchestration-SO key (first 8 bytes of the ELF GNU Build-ID, with
//! FNV-1a 64 of the whole file as the fallback).

/// FNV-1a 64-bit offset basis.
pub const FNV1A64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
pub const FNV1A64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64-bit hash of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV1A64_OFFSET, |h, &b| (h ^ b as u64).wrapping_mul(FNV1A64_PRIME))
}

/// Dedupe key of an orchestration SO: the first 8 bytes of its GNU Build-ID
/// read as a little-endian `u64`, or [`fnv1a64`] of the whole file when the
/// Build-ID is absent or the ELF is malformed.
pub fn orch_so_key(so: &[u8]) -> u64 {
    match elf_build_id(so) {
        Some(id) => u64::from_le_bytes(id),
        None => fnv1a64(so),
    }
}

const PT_NOTE: u32 = 4;
const SHT_NOTE: u32 = 7;
const NT_GNU_BUILD_ID: u32 = 3;
const ELF64_EHDR_SIZE: usize = 64;
const ELF64_PHDR_SIZE: usize = 56;
const ELF64_SHDR_SIZE: usize = 64;

/// Bounds-checked little-endian readers over a byte slice. Every read returns
/// `None` instead of panicking when it would leave the slice.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes(&self, off: usize, len: usize) -> Option<&[u8]> {
        let end = off.checked_add(len)?;
        self.0.get(off..end)
    }

    fn u16(&self, off: usize) -> Option<u16> {
        self.bytes(off, 2).map(|b| u16::from_le_bytes(b.try_into().expect("2 bytes")))
    }

    fn u32(&self, off: usize) -> Option<u32> {
        self.bytes(off, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u64(&self, off: usize) -> Option<u64> {
        self.bytes(off, 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// `u64` field converted to a `usize` offset/size (None if it does not fit).
    fn usize64(&self, off: usize) -> Option<usize> {
        usize::try_from(self.u64(off)?).ok()
    }
}

/// One header table (program or section headers): offset, entry size, count.
fn table(
    r: &Reader<'_>,
    off_field: usize,
    entsize_field: usize,
    num_field: usize,
    min_entsize: usize,
) -> Option<(usize, usize, usize)> {
    let off = r.usize64(off_field)?;
    let entsize = r.u16(entsize_field)? as usize;
    let num = r.u16(num_field)? as usize;
    if num == 0 || off == 0 || entsize < min_entsize {
        return None;
    }
    // The whole table must lie inside the file.
    r.bytes(off, entsize.checked_mul(num)?)?;
    Some((off, entsize, num))
}

/// Scans a note area `[off, off+size)` (entries aligned to `align`) for the
/// GNU Build-ID and returns its first 8 bytes.
fn scan_notes(r: &Reader<'_>, off: usize, size: usize, align: usize) -> Option<[u8; 8]> {
    let area = Reader(r.bytes(off, size)?);
    let round = |v: usize| -> Option<usize> { Some(v.checked_add(align - 1)? & !(align - 1)) };
    let mut pos = 0usize;
    while pos.checked_add(12)? <= area.0.len() {
        let namesz = area.u32(pos)? as usize;
        let descsz = area.u32(pos + 4)? as usize;
        let ntype = area.u32(pos + 8)?;
        let name_off = pos + 12;
        let desc_off = name_off.checked_add(round(namesz)?)?;
        let name = area.bytes(name_off, namesz)?;
        let desc = area.bytes(desc_off, descsz)?;
        if ntype == NT_GNU_BUILD_ID && name == b"GNU\0" {
            return desc.get(..8).map(|d| d.try_into().expect("8 bytes"));
        }
        pos = desc_off.checked_add(round(descsz)?)?;
    }
    None
}

/// Note alignment: 8 only if the segment/section explicitly says so, else 4
/// (the ELF64 GNU convention for `.note.gnu.build-id`).
fn note_align(declared: u64) -> usize {
    if declared == 8 {
        8
    } else {
        4
    }
}

/// First 8 bytes of the `NT_GNU_BUILD_ID` note (name `"GNU\0"`) of a
/// little-endian ELF64 image, looked up through the `PT_NOTE` program headers
/// first and the `SHT_NOTE` section headers second.
///
/// The parse is defensive: every header, table and note is bounds-checked;
/// anything malformed yields `None` (never a panic or an out-of-bounds read).
/// A Build-ID shorter than 8 bytes counts as absent.
pub fn elf_build_id(so: &[u8]) -> Option<[u8; 8]> {
    let r = Reader(so);
    let ident = r.bytes(0, ELF64_EHDR_SIZE)?;
    // Magic, ELFCLASS64, ELFDATA2LSB.
    if &ident[..4] != b"\x7fELF" || ident[4] != 2 || ident[5] != 1 {
        return None;
    }

    if let Some((off, entsize, num)) = table(&r, 0x20, 0x36, 0x38, ELF64_PHDR_SIZE) {
        for i in 0..num {
            let ph = off + i * entsize;
            if r.u32(ph)? != PT_NOTE {
                continue;
            }
            let p_offset = r.usize64(ph + 8)?;
            let p_filesz = r.usize64(ph + 32)?;
            let p_align = r.u64(ph + 48)?;
            if let Some(id) = scan_notes(&r, p_offset, p_filesz, note_align(p_align)) {
                return Some(id);
            }
        }
    }

    if let Some((off, entsize, num)) = table(&r, 0x28, 0x3A, 0x3C, ELF64_SHDR_SIZE) {
        for i in 0..num {
            let sh = off + i * entsize;
            if r.u32(sh + 4)? != SHT_NOTE {
                continue;
            }
            let sh_offset = r.usize64(sh + 24)?;
            let sh_size = r.usize64(sh + 32)?;
            let sh_addralign = r.u64(sh + 48)?;
            if let Some(id) = scan_notes(&r, sh_offset, sh_size, note_align(sh_addralign)) {
                return Some(id);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    #[test]
    fn fnv1a64_known_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    fn unique_dir(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "simpler-abi-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    /// Target triple of the machine running the tests (unit tests get no
    /// `TARGET` from a build script, so `cc` is told explicitly).
    fn host_triple() -> &'static str {
        if cfg!(target_arch = "aarch64") {
            "aarch64-unknown-linux-gnu"
        } else {
            "x86_64-unknown-linux-gnu"
        }
    }

    /// Compiles `src` into a shared object with a SHA-1 build id.
    fn build_so(dir: &Path, name: &str, src: &str, build_id: bool) -> Vec<u8> {
        let c = dir.join(format!("{name}.c"));
        let so = dir.join(format!("{name}.so"));
        std::fs::write(&c, src).expect("write source");
        let compiler = cc::Build::new()
            .cargo_metadata(false)
            .opt_level(0)
            .target(host_triple())
            .host(host_triple())
            .get_compiler();
        let mut cmd = compiler.to_command();
        cmd.arg("-shared").arg("-fPIC");
        cmd.arg(if build_id { "-Wl,--build-id=sha1" } else { "-Wl,--build-id=none" });
        let status = cmd.arg("-o").arg(&so).arg(&c).status().expect("run C compiler");
        assert!(status.success(), "compiling {name} failed");
        std::fs::read(&so).expect("read .so")
    }

    /// The build id as printed by `readelf -n` (None if readelf is missing).
    fn readelf_build_id(path: &Path) -> Option<Vec<u8>> {
        let out = Command::new("readelf").arg("-n").arg(path).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find(|l| l.contains("Build ID:"))?;
        let hex = line.split("Build ID:").nth(1)?.trim();
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
    }

    #[test]
    #[cfg_attr(miri, ignore = "runs the C compiler and readelf; Miri cannot spawn processes")]
    fn build_id_of_real_shared_objects() {
        let dir = unique_dir("buildid");
        let a = build_so(&dir, "a", "int simpler_a(void) { return 1; }\n", true);
        let b = build_so(&dir, "b", "int simpler_b(int x) { return x * 7; }\n", true);
        let id_a = elf_build_id(&a).expect("a has a build id");
        let id_b = elf_build_id(&b).expect("b has a build id");
        assert_ne!(id_a, id_b, "different sources give different build ids");
        assert_eq!(elf_build_id(&a), Some(id_a), "stable for the same bytes");
        assert_eq!(orch_so_key(&a), u64::from_le_bytes(id_a));
        // Cross-check with binutils when it is installed.
        if Command::new("readelf").arg("--version").output().is_ok() {
            let full = readelf_build_id(&dir.join("a.so")).expect("readelf prints a Build ID");
            assert_eq!(full.len(), 20, "sha1 build id is 20 bytes");
            assert_eq!(&full[..8], &id_a[..]);
        }

        // Strip the section headers' view of the world: the program header
        // path alone must still find the id (zero e_shoff / e_shnum).
        let mut no_sections = a.clone();
        no_sections[0x28..0x30].fill(0);
        no_sections[0x3C..0x3E].fill(0);
        assert_eq!(elf_build_id(&no_sections), Some(id_a));
        // And the section header path alone (zero e_phoff / e_phnum).
        let mut no_segments = a.clone();
        no_segments[0x20..0x28].fill(0);
        no_segments[0x38..0x3A].fill(0);
        assert_eq!(elf_build_id(&no_segments), Some(id_a));

        let none = build_so(&dir, "n", "int simpler_n(void) { return 3; }\n", false);
        assert_eq!(elf_build_id(&none), None);
        assert_eq!(orch_so_key(&none), fnv1a64(&none));

        // Every truncation of a real SO parses without panicking; a cut
        // before the note's end cannot yield a wrong id.
        for len in (0..a.len()).step_by(37) {
            if let Some(id) = elf_build_id(&a[..len]) {
                assert_eq!(id, id_a);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_and_truncated_headers_give_none() {
        assert_eq!(elf_build_id(b""), None);
        assert_eq!(elf_build_id(b"\x7fELF"), None);
        assert_eq!(elf_build_id(&[0u8; 64]), None);
        let mut hdr = [0u8; 64];
        hdr[..4].copy_from_slice(b"\x7fELF");
        hdr[4] = 1; // ELFCLASS32
        hdr[5] = 1;
        assert_eq!(elf_build_id(&hdr), None);
        hdr[4] = 2;
        hdr[5] = 2; // big endian
        assert_eq!(elf_build_id(&hdr), None);
        hdr[5] = 1;
        // Program headers pointing far beyond the file.
        hdr[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        hdr[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        hdr[0x38..0x3A].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert_eq!(elf_build_id(&hdr), None);
        // Pseudo-random garbage with a valid ident never panics.
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..200 {
            let mut buf = vec![0u8; 512];
            for b in buf.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            buf[..6].copy_from_slice(b"\x7fELF\x02\x01");
            let _ = elf_build_id(&buf);
        }
    }

    #[test]
    fn handcrafted_note_with_hostile_sizes() {
        // ELF header + one PT_NOTE phdr + a note area.
        let mut img = vec![0u8; 64 + 56 + 64];
        img[..6].copy_from_slice(b"\x7fELF\x02\x01");
        img[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        img[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        img[0x38..0x3A].copy_from_slice(&1u16.to_le_bytes());
        let ph = 64;
        img[ph..ph + 4].copy_from_slice(&PT_NOTE.to_le_bytes());
        img[ph + 8..ph + 16].copy_from_slice(&120u64.to_le_bytes());
        img[ph + 32..ph + 40].copy_from_slice(&64u64.to_le_bytes());
        img[ph + 48..ph + 56].copy_from_slice(&4u64.to_le_bytes());
        let n = 120;
        // An unrelated note first (type 1, name "GNU", 4-byte desc).
        img[n..n + 4].copy_from_slice(&4u32.to_le_bytes());
        img[n + 4..n + 8].copy_from_slice(&4u32.to_le_bytes());
        img[n + 8..n + 12].copy_from_slice(&1u32.to_le_bytes());
        img[n + 12..n + 16].copy_from_slice(b"GNU\0");
        // Then the build id (namesz 4, descsz 8).
        let m = n + 20;
        img[m..m + 4].copy_from_slice(&4u32.to_le_bytes());
        img[m + 4..m + 8].copy_from_slice(&8u32.to_le_bytes());
        img[m + 8..m + 12].copy_from_slice(&NT_GNU_BUILD_ID.to_le_bytes());
        img[m + 12..m + 16].copy_from_slice(b"GNU\0");
        img[m + 16..m + 24].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(elf_build_id(&img), Some([1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(orch_so_key(&img), 0x0807_0605_0403_0201);

        // descsz too large for the segment → None (fallback to FNV).
        let mut bad = img.clone();
        bad[m + 4..m + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(elf_build_id(&bad), None);
        assert_eq!(orch_so_key(&bad), fnv1a64(&bad));
        // namesz huge → None.
        let mut bad = img.clone();
        bad[n..n + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        assert_eq!(elf_build_id(&bad), None);
        // Short build id (4 bytes) counts as absent.
        let mut short = img.clone();
        short[m + 4..m + 8].copy_from_slice(&4u32.to_le_bytes());
        assert_eq!(elf_build_id(&short), None);
        // Segment larger than the file → None.
        let mut bad = img.clone();
        bad[ph + 32..ph + 40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(elf_build_id(&bad), None);
    }
}
