//! Reading segment files back: verifying every entry of a segment (at open, and before a
//! running spool replays it), finding the next intact entry after damage, and reading one
//! framed entry.
//!
//! Owns the segment format's reading side. Must not keep state: the spool decides what to do
//! with what a scan finds.

use std::{
    fs::{File, OpenOptions},
    io::{BufReader, Read, Seek, SeekFrom},
    path::Path,
};

use super::{
    io_err, Head, Segment, SpoolError, FRAME_HEADER, MAX_ENTRY_BYTES, MIN_PAYLOAD_BYTES,
    SEGMENT_MAGIC,
};
use crate::output::sink::wire::OutMessage;

pub(super) struct Scan {
    /// None when the file is not a spool segment (or empty): it is removed.
    pub(super) segment: Option<Segment>,
    /// Head inside this segment, when the saved head points into it.
    pub(super) head: Option<Head>,
    pub(super) damaged_bytes: u64,
}

/// How a segment is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScanMode {
    /// At open: the whole file; a damaged tail is cut off the file.
    Open,
    /// While running: only up to the segment's good length `limit`, nothing is written (the
    /// segment may be open for appending); damage up to `limit` becomes a hole.
    Verify { limit: u64 },
}

/// Reads a segment through, verifying every entry. Damage in the middle (an entry that does not
/// verify, followed by intact ones) becomes a hole; a damaged tail is cut off (at open) or
/// becomes a hole (while running).
pub(super) fn scan_segment(
    path: &Path,
    head_offset: Option<u64>,
    mode: ScanMode,
) -> Result<Scan, SpoolError> {
    let seq = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_default();
    let file = File::open(path).map_err(io_err(path))?;
    let file_len = file.metadata().map_err(io_err(path))?.len();
    let end = match mode {
        ScanMode::Open => file_len,
        ScanMode::Verify { limit } => limit,
    };
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 8];
    let magic_ok = reader.read_exact(&mut magic).is_ok() && &magic == SEGMENT_MAGIC;
    if !magic_ok && mode == ScanMode::Open {
        return Ok(Scan {
            segment: None,
            head: None,
            damaged_bytes: file_len,
        });
    }
    let start = SEGMENT_MAGIC.len() as u64;
    if !magic_ok {
        reader.seek(SeekFrom::Start(start)).map_err(io_err(path))?;
    }
    let mut walk = walk_entries(&mut reader, path, seq, start, end, head_offset)?;
    let mut damaged_bytes: u64 = walk.holes.iter().map(|(a, b)| b - a).sum();
    let bytes = match mode {
        ScanMode::Open => {
            damaged_bytes += cut_torn_tail(path, walk.offset, file_len)?;
            walk.offset
        }
        ScanMode::Verify { limit } => {
            if walk.offset < limit {
                walk.holes.push((walk.offset, limit));
                damaged_bytes += limit - walk.offset;
            }
            limit
        }
    };
    Ok(Scan {
        segment: Some(Segment {
            seq,
            bytes,
            messages: walk.messages,
            records: walk.records,
            holes: walk.holes,
        }),
        head: walk.head,
        damaged_bytes,
    })
}

/// What [`walk_entries`] found between the segment's header and `end`.
struct Walk {
    /// Where the last intact entry ends.
    offset: u64,
    messages: u64,
    records: u64,
    /// Damaged ranges skipped over, `(from, to)`.
    holes: Vec<(u64, u64)>,
    /// The first entry at or after the head offset (or the end), when a head was asked for.
    head: Option<Head>,
}

/// Reads entries from `start` to `end`, counting them, jumping over damaged ranges to the next
/// intact entry, and noting where the head offset falls.
fn walk_entries(
    reader: &mut BufReader<File>,
    path: &Path,
    seq: u64,
    start: u64,
    end: u64,
    head_offset: Option<u64>,
) -> Result<Walk, SpoolError> {
    let mut walk = Walk {
        offset: start,
        messages: 0,
        records: 0,
        holes: Vec::new(),
        head: None,
    };
    let head_here = |w: &Walk| Head {
        seq,
        offset: w.offset,
        messages_before: w.messages,
        records_before: w.records,
    };
    while walk.offset < end {
        if walk.head.is_none() && head_offset.is_some_and(|h| h <= walk.offset) {
            walk.head = Some(head_here(&walk));
        }
        match read_entry(reader) {
            Ok(Some((message, len))) if walk.offset + len <= end => {
                walk.offset += len;
                walk.messages += 1;
                walk.records += u64::from(message.records);
            }
            _ => match find_next_entry(path, walk.offset + 1, end)? {
                Some(next) => {
                    walk.holes.push((walk.offset, next));
                    walk.offset = next;
                    reader.seek(SeekFrom::Start(next)).map_err(io_err(path))?;
                }
                None => break,
            },
        }
    }
    if head_offset.is_some() && walk.head.is_none() {
        walk.head = Some(head_here(&walk));
    }
    Ok(walk)
}

/// Cuts the file back to `offset` (the end of its last intact entry) when a torn write left
/// bytes after it; returns how many were cut.
fn cut_torn_tail(path: &Path, offset: u64, file_len: u64) -> Result<u64, SpoolError> {
    let tail = file_len - offset.min(file_len);
    if tail > 0 {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        file.set_len(offset).map_err(io_err(path))?;
        file.sync_data().map_err(io_err(path))?;
    }
    Ok(tail)
}

/// The offset of the first intact entry at or after `from` and ending by `end`, if any: every
/// position is tried (a plausible frame, a decodable payload header, then the checksum). Runs
/// only after damage was found; reads the rest of the segment into memory once.
pub(super) fn find_next_entry(path: &Path, from: u64, end: u64) -> Result<Option<u64>, SpoolError> {
    if from >= end {
        return Ok(None);
    }
    let mut file = File::open(path).map_err(io_err(path))?;
    file.seek(SeekFrom::Start(from)).map_err(io_err(path))?;
    let mut rest = Vec::new();
    file.take(end - from)
        .read_to_end(&mut rest)
        .map_err(io_err(path))?;
    Ok(first_intact_entry(&rest).map(|at| from + at as u64))
}

/// The position of the first intact framed entry in `bytes`.
pub(super) fn first_intact_entry(bytes: &[u8]) -> Option<usize> {
    let header = FRAME_HEADER as usize;
    (0..bytes.len().saturating_sub(header)).find(|&at| {
        let Some(frame) = bytes.get(at..at + header) else {
            return false;
        };
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        if !(MIN_PAYLOAD_BYTES..=MAX_ENTRY_BYTES).contains(&len) {
            return false;
        }
        let Some(payload) = bytes.get(at + header..at + header + len as usize) else {
            return false;
        };
        plausible_payload(payload)
            && crc32fast::hash(payload) == crc
            && OutMessage::decode_payload(payload).is_some()
    })
}

/// A cheap first test of a payload: its three length-prefixed strings fit inside it.
pub(super) fn plausible_payload(payload: &[u8]) -> bool {
    let mut at = 12usize;
    for _ in 0..3 {
        let Some(&len) = payload.get(at) else {
            return false;
        };
        at += 1 + usize::from(len);
    }
    at <= payload.len()
}

/// Reads one framed entry; `Ok(None)` at a clean end, `Err` for a torn or corrupt one.
pub(super) fn read_entry(reader: &mut impl Read) -> std::io::Result<Option<(OutMessage, u64)>> {
    let mut header = [0u8; FRAME_HEADER as usize];
    let mut got = 0;
    while got < header.len() {
        match reader.read(&mut header[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(corrupt("torn entry header")),
            n => got += n,
        }
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_ENTRY_BYTES {
        return Err(corrupt("entry length out of range"));
    }
    let mut payload = vec![0u8; len as usize];
    reader.read_exact(&mut payload)?;
    if crc32fast::hash(&payload) != crc {
        return Err(corrupt("entry checksum mismatch"));
    }
    let message = OutMessage::decode_payload(&payload).ok_or_else(|| corrupt("bad entry"))?;
    Ok(Some((message, FRAME_HEADER + u64::from(len))))
}

/// Cuts `file` back to `len` bytes, puts its write position there and syncs it.
pub(super) fn cut_back(file: &mut File, len: u64) -> std::io::Result<()> {
    file.set_len(len)?;
    file.seek(SeekFrom::Start(len))?;
    file.sync_data()
}

pub(super) fn corrupt(what: &'static str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}
