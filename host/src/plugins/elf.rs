//! What a mappable plugin file looks like, checked on its bytes before `dlopen` sees it: a
//! 64-bit little-endian ELF shared object for this machine whose program headers and loadable
//! segments lie inside the file, in address order, with the dynamic section inside one of them.
//!
//! `dlopen` maps segments past the end of a truncated file (the first touch is a SIGBUS) and
//! follows damaged headers into unmapped memory (SIGSEGV): either ends the collector. These
//! checks turn the common cases — a file cut short, a flipped header bit — into an error.
//! Must not be mistaken for a defence against a hostile library: a well-formed one runs its
//! initializers at `dlopen`; the trust checks are that defence.

/// Size of the ELF64 file header.
const EHDR_LEN: usize = 64;
/// Size of one ELF64 program header.
const PHDR_LEN: usize = 56;
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;

/// `e_machine` of the host (`None`: not checked on this architecture).
const HOST_MACHINE: Option<u16> = if cfg!(target_arch = "x86_64") {
    Some(62)
} else if cfg!(target_arch = "aarch64") {
    Some(183)
} else {
    None
};

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// One program header's fields that matter here.
#[derive(Debug, Clone, Copy)]
struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

fn segment(b: &[u8], at: usize) -> Option<Segment> {
    Some(Segment {
        kind: u32_at(b, at)?,
        offset: u64_at(b, at + 8)?,
        vaddr: u64_at(b, at + 16)?,
        filesz: u64_at(b, at + 32)?,
        memsz: u64_at(b, at + 40)?,
        align: u64_at(b, at + 48)?,
    })
}

/// Why `bytes` cannot be mapped as a plugin (one short sentence), or `Ok`.
pub fn check_shared_object(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < EHDR_LEN || &bytes[..4] != ELF_MAGIC {
        return Err("not an ELF file".into());
    }
    if !cfg!(all(target_pointer_width = "64", target_endian = "little")) {
        return Ok(());
    }
    if bytes[4] != ELFCLASS64 || bytes[5] != ELFDATA2LSB {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let header = |at| u16_at(bytes, at).unwrap_or(0);
    if header(16) != ET_DYN {
        return Err("not a shared object".into());
    }
    if let Some(machine) = HOST_MACHINE {
        if header(18) != machine {
            return Err(format!(
                "built for another machine (e_machine {}, this host {machine})",
                header(18)
            ));
        }
    }
    let len = bytes.len() as u64;
    let phoff = u64_at(bytes, 32).unwrap_or(u64::MAX);
    let (phentsize, phnum) = (usize::from(header(54)), usize::from(header(56)));
    let table_end = (phnum as u64)
        .checked_mul(PHDR_LEN as u64)
        .and_then(|size| size.checked_add(phoff));
    if phentsize != PHDR_LEN || phnum == 0 || table_end.is_none_or(|end| end > len) {
        return Err("program headers damaged or cut off (truncated file?)".into());
    }
    let segments: Vec<Segment> = (0..phnum)
        .filter_map(|i| segment(bytes, phoff as usize + i * PHDR_LEN))
        .collect();
    let loads: Vec<&Segment> = segments.iter().filter(|s| s.kind == PT_LOAD).collect();
    check_loads(&loads, len)?;
    if let Some(dynamic) = segments.iter().find(|s| s.kind == PT_DYNAMIC) {
        let inside = loads.iter().any(|l| {
            dynamic.vaddr >= l.vaddr
                && dynamic.vaddr.checked_add(dynamic.filesz) <= l.vaddr.checked_add(l.filesz)
        });
        if !inside {
            return Err("its dynamic section lies outside its loadable segments".into());
        }
    }
    Ok(())
}

/// The loadable segments: the first maps the file's start, each lies inside the file, is
/// congruent to its alignment, and follows the previous one.
fn check_loads(loads: &[&Segment], len: u64) -> Result<(), String> {
    let Some(first) = loads.first() else {
        return Err("no loadable segment".into());
    };
    if first.offset != 0 {
        return Err("its first loadable segment does not start the file".into());
    }
    let mut previous_end = 0u64;
    for (i, s) in loads.iter().enumerate() {
        let file_end = s.offset.checked_add(s.filesz);
        if file_end.is_none_or(|end| end > len) {
            return Err(format!(
                "loadable segment {i} ends past the end of the file ({len} bytes; truncated?)"
            ));
        }
        if s.filesz > s.memsz {
            return Err(format!(
                "loadable segment {i} is larger in the file than in memory"
            ));
        }
        if s.align > 1 && (!s.align.is_power_of_two() || s.offset % s.align != s.vaddr % s.align) {
            return Err(format!("loadable segment {i} is misaligned"));
        }
        if s.vaddr < previous_end {
            return Err(format!("loadable segment {i} overlaps the one before"));
        }
        previous_end = s
            .vaddr
            .checked_add(s.memsz)
            .ok_or_else(|| format!("loadable segment {i} wraps around the address space"))?;
    }
    Ok(())
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// A minimal shared object: header, three program headers (two loads and the dynamic
    /// section), padded to `len` bytes.
    fn elf(len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[..4].copy_from_slice(ELF_MAGIC);
        b[4] = ELFCLASS64;
        b[5] = ELFDATA2LSB;
        b[6] = 1;
        b[16..18].copy_from_slice(&ET_DYN.to_le_bytes());
        b[18..20].copy_from_slice(&62u16.to_le_bytes());
        b[32..40].copy_from_slice(&(EHDR_LEN as u64).to_le_bytes());
        b[54..56].copy_from_slice(&(PHDR_LEN as u16).to_le_bytes());
        b[56..58].copy_from_slice(&3u16.to_le_bytes());
        // (type, offset, vaddr, filesz, memsz, align)
        let segments = [
            (PT_LOAD, 0u64, 0u64, 0x1000u64, 0x1000u64, 0x1000u64),
            (PT_LOAD, 0x1000, 0x2000, 0x800, 0x900, 0x1000),
            (PT_DYNAMIC, 0x1400, 0x2400, 0x100, 0x100, 8),
        ];
        for (i, (kind, offset, vaddr, filesz, memsz, align)) in segments.into_iter().enumerate() {
            let at = EHDR_LEN + i * PHDR_LEN;
            b[at..at + 4].copy_from_slice(&kind.to_le_bytes());
            for (field, value) in [
                (8, offset),
                (16, vaddr),
                (32, filesz),
                (40, memsz),
                (48, align),
            ] {
                b[at + field..at + field + 8].copy_from_slice(&value.to_le_bytes());
            }
        }
        b
    }

    /// Sets the 8-byte field at `field` of program header `i`.
    fn set(b: &mut [u8], i: usize, field: usize, value: u64) {
        let at = EHDR_LEN + i * PHDR_LEN + field;
        b[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    #[test]
    fn damaged_shared_objects_are_refused_before_mapping() {
        const LEN: usize = 0x1800;
        let ok = elf(LEN);
        assert_eq!(check_shared_object(&ok), Ok(()));
        type Damage = fn(&mut Vec<u8>);
        let cases: [(&str, Damage, &str); 14] = [
            ("empty", |b| b.clear(), "not an ELF"),
            ("text", |b| *b = b"not a library".to_vec(), "not an ELF"),
            (
                "truncated in the headers",
                |b| b.truncate(100),
                "program headers",
            ),
            (
                "truncated in a segment",
                |b| b.truncate(0x1200),
                "segment 1 ends past the end",
            ),
            ("32-bit", |b| b[4] = 1, "64-bit"),
            ("executable", |b| b[16] = 2, "not a shared object"),
            ("aarch64", |b| b[18] = 183, "another machine"),
            (
                "first load moved",
                |b| set(b, 0, 8, 0x10),
                "does not start the file",
            ),
            (
                "first load no longer a load",
                |b| b[EHDR_LEN + 1] = 1,
                "does not start the file",
            ),
            (
                "file size above memory size",
                |b| set(b, 1, 40, 0x10),
                "larger in the file",
            ),
            ("misaligned", |b| set(b, 1, 16, 0x2010), "misaligned"),
            ("overlapping", |b| set(b, 1, 16, 0), "overlaps"),
            (
                "dynamic outside",
                |b| set(b, 2, 16, 0x9000),
                "dynamic section",
            ),
            (
                "huge program header offset",
                |b| b[32..40].fill(0xff),
                "program headers",
            ),
        ];
        for (name, damage, expected) in cases {
            let mut bytes = ok.clone();
            damage(&mut bytes);
            let err = check_shared_object(&bytes).expect_err(name);
            assert!(err.contains(expected), "{name}: {err}");
        }
    }
}
