//! The AMQP sink's on-disk spool: a bounded FIFO of encoded messages kept while the broker is
//! unreachable (or refuses them), replayed in order once it is back, and kept across restarts.
//! Owns the files under its folder and nothing else; knows nothing about AMQP connections.
//! Must not lose a message silently: whatever it drops to stay inside its size limit (the
//! oldest segment first) is counted and returned to the caller, which reports it.
//!
//! Layout: numbered segment files `<seq>.spool` (20 digits), each a magic header followed by
//! framed entries `[u32 payload length][u32 CRC-32 of payload][payload]` (little-endian), and a
//! `head` file with the read position (`<seq> <offset>`). Appends are written whole and
//! `fsync`ed before they are acknowledged; a torn entry at the end of a segment (a crash mid-
//! write) is cut off at the next open. The head is saved after each consumed chunk; a crash in
//! between only replays that chunk again (delivery is at-least-once, consumers dedup by
//! `message_id`). The size limit counts whole files, consumed parts of the head segment
//! included, so the folder never grows past `max_bytes`.
//!
//! All methods do blocking file I/O: call them off the async runtime (`spawn_blocking`).

use std::{
    collections::VecDeque,
    fs::{self, File, OpenOptions},
    io::{BufReader, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use super::amqp::OutMessage;

/// First bytes of every segment file (format version 1).
const SEGMENT_MAGIC: &[u8; 8] = b"FCSPOOL1";
/// Bytes of an entry's frame header (length + CRC).
const FRAME_HEADER: u64 = 8;
/// The spool is cut into about this many segments, so dropping the oldest segment when full
/// loses about 1/16 of it at a time.
const SEGMENTS_PER_SPOOL: u64 = 16;
/// Smallest segment size (tiny spools in tests).
const MIN_SEGMENT_BYTES: u64 = 4 * 1024;
/// Largest segment size (big spools): bounds the work of dropping or scanning one segment.
const MAX_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Largest payload accepted when reading (guards against a corrupt length field).
const MAX_ENTRY_BYTES: u32 = 256 * 1024 * 1024;
/// Extension of segment files.
const SEGMENT_EXTENSION: &str = "spool";
/// Name of the file holding the read position.
const HEAD_FILE: &str = "head";

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What opening an existing spool found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpenReport {
    /// Records waiting to be replayed.
    pub records: u64,
    /// Messages waiting to be replayed.
    pub messages: u64,
    /// Bytes cut off damaged segments (torn writes, corruption); their records are lost.
    pub damaged_bytes: u64,
}

/// What one append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AppendReport {
    /// Records of this append now on disk.
    pub spooled_records: u64,
    /// Records dropped to stay within the limit (older spooled ones, or oversized new ones).
    pub dropped_records: u64,
    /// Messages dropped (a batch message holds several records).
    pub dropped_messages: u64,
}

#[derive(Debug)]
struct Segment {
    seq: u64,
    /// File size, header included.
    bytes: u64,
    messages: u64,
    records: u64,
}

/// Position of the next message to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    seq: u64,
    offset: u64,
    /// Messages and records of the head segment before `offset`.
    messages_before: u64,
    records_before: u64,
}

/// A bounded on-disk FIFO of messages.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// Oldest first; the last one is the one appended to.
    segments: VecDeque<Segment>,
    head: Head,
    /// The last segment, open for appending.
    writer: Option<(u64, File)>,
    /// Reader of a segment and its position (reopened when reading moves to another one).
    reader: Option<SegmentReader>,
    /// End positions (segment, offset, records) of the messages returned by the last `peek`.
    peeked: Vec<(u64, u64, u64)>,
    next_seq: u64,
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, keeping what a previous run left there.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<(Self, OpenReport), SpoolError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut seqs = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXTENSION) {
                continue;
            }
            if let Some(seq) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let saved_head = read_head(&dir.join(HEAD_FILE));
        let mut report = OpenReport::default();
        let mut segments = VecDeque::new();
        let mut head = None;
        for seq in seqs {
            let path = segment_path(dir, seq);
            if saved_head.is_some_and(|(head_seq, _)| seq < head_seq) {
                // Fully replayed before the last stop.
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            let scan = scan_segment(&path, saved_head.filter(|(s, _)| *s == seq).map(|h| h.1))?;
            report.damaged_bytes += scan.damaged_bytes;
            if scan.damaged_bytes > 0 {
                tracing::error!(segment = %path.display(), bytes = scan.damaged_bytes, "damaged spool segment cut off at its last intact message; the rest is lost");
            }
            let Some(scan_ok) = scan.segment else {
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            };
            if head.is_none() {
                head = Some(scan.head.unwrap_or(Head {
                    seq,
                    offset: SEGMENT_MAGIC.len() as u64,
                    messages_before: 0,
                    records_before: 0,
                }));
            }
            segments.push_back(scan_ok);
        }
        let next_seq = segments.back().map_or(0, |s| s.seq + 1);
        let head = head.unwrap_or(Head {
            seq: next_seq,
            offset: SEGMENT_MAGIC.len() as u64,
            messages_before: 0,
            records_before: 0,
        });
        let segment_bytes =
            (max_bytes / SEGMENTS_PER_SPOOL).clamp(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES);
        let spool = Self {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes,
            segments,
            head,
            writer: None,
            reader: None,
            peeked: Vec::new(),
            next_seq,
        };
        report.records = spool.records();
        report.messages = spool.messages();
        spool.save_head()?;
        Ok((spool, report))
    }

    /// Messages waiting to be replayed.
    pub fn messages(&self) -> u64 {
        let total: u64 = self.segments.iter().map(|s| s.messages).sum();
        total.saturating_sub(self.head.messages_before)
    }

    /// Records waiting to be replayed.
    pub fn records(&self) -> u64 {
        let total: u64 = self.segments.iter().map(|s| s.records).sum();
        total.saturating_sub(self.head.records_before)
    }

    /// Bytes the spool's segment files take on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.messages() == 0
    }

    /// Appends `messages` in order and syncs them to disk. To stay within the size limit it
    /// first drops the oldest segments; a message larger than the whole spool is dropped.
    /// `spooled_records` counts what this call accepted; records dropped later (even by this
    /// same call, when it wraps around a small spool) are counted in `dropped_records`.
    pub fn append(&mut self, messages: &[OutMessage]) -> Result<AppendReport, SpoolError> {
        let magic = SEGMENT_MAGIC.len() as u64;
        let mut report = AppendReport::default();
        let mut pending = Pending::default();
        for message in messages {
            let entry_len = FRAME_HEADER + message.encoded_len() as u64;
            if entry_len + magic > self.max_bytes {
                report.dropped_records += u64::from(message.records);
                report.dropped_messages += 1;
                continue;
            }
            let mut need_new = match (&self.writer, self.segments.back()) {
                (Some(_), Some(tail)) => {
                    tail.messages + pending.messages > 0
                        && tail.bytes + pending.bytes.len() as u64 + entry_len > self.segment_bytes
                }
                _ => true,
            };
            let mut extra = entry_len + if need_new { magic } else { 0 };
            if need_new || self.bytes() + pending.bytes.len() as u64 + extra > self.max_bytes {
                self.flush_pending(&mut pending)?;
            }
            while self.bytes() + extra > self.max_bytes && !self.segments.is_empty() {
                let (messages, records) = self.drop_oldest()?;
                report.dropped_messages += messages;
                report.dropped_records += records;
                if self.writer.is_none() && !need_new {
                    need_new = true;
                    extra += magic;
                }
            }
            if need_new {
                self.start_segment()?;
            }
            message.encode_entry(&mut pending.bytes);
            pending.messages += 1;
            pending.records += u64::from(message.records);
            report.spooled_records += u64::from(message.records);
        }
        self.flush_pending(&mut pending)?;
        if report.spooled_records > 0 {
            if let Some((seq, file)) = &self.writer {
                file.sync_data()
                    .map_err(io_err(&segment_path(&self.dir, *seq)))?;
            }
        }
        Ok(report)
    }

    /// Writes buffered entries to the tail segment.
    fn flush_pending(&mut self, pending: &mut Pending) -> Result<(), SpoolError> {
        if pending.bytes.is_empty() {
            return Ok(());
        }
        if let (Some((seq, file)), Some(tail)) = (&mut self.writer, self.segments.back_mut()) {
            file.write_all(&pending.bytes)
                .map_err(io_err(&segment_path(&self.dir, *seq)))?;
            tail.bytes += pending.bytes.len() as u64;
            tail.messages += pending.messages;
            tail.records += pending.records;
        }
        *pending = Pending::default();
        Ok(())
    }

    /// Closes the current tail (synced) and creates the next segment file.
    fn start_segment(&mut self) -> Result<(), SpoolError> {
        if let Some((seq, file)) = self.writer.take() {
            file.sync_data()
                .map_err(io_err(&segment_path(&self.dir, seq)))?;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let path = segment_path(&self.dir, seq);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        file.write_all(SEGMENT_MAGIC).map_err(io_err(&path))?;
        // The new file's name must survive a crash too.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))?;
        if self.segments.is_empty() {
            self.head = Head {
                seq,
                offset: SEGMENT_MAGIC.len() as u64,
                messages_before: 0,
                records_before: 0,
            };
        }
        self.segments.push_back(Segment {
            seq,
            bytes: SEGMENT_MAGIC.len() as u64,
            messages: 0,
            records: 0,
        });
        self.writer = Some((seq, file));
        Ok(())
    }

    /// Deletes the oldest segment; returns the (messages, records) lost with it.
    fn drop_oldest(&mut self) -> Result<(u64, u64), SpoolError> {
        let Some(oldest) = self.segments.pop_front() else {
            return Ok((0, 0));
        };
        let lost = if oldest.seq == self.head.seq {
            (
                oldest.messages.saturating_sub(self.head.messages_before),
                oldest.records.saturating_sub(self.head.records_before),
            )
        } else {
            (oldest.messages, oldest.records)
        };
        if self
            .writer
            .as_ref()
            .is_some_and(|(seq, _)| *seq == oldest.seq)
        {
            self.writer = None;
        }
        if self.reader.as_ref().is_some_and(|r| r.seq == oldest.seq) {
            self.reader = None;
        }
        self.peeked.clear();
        let path = segment_path(&self.dir, oldest.seq);
        fs::remove_file(&path).map_err(io_err(&path))?;
        self.head = Head {
            seq: self.segments.front().map_or(self.next_seq, |s| s.seq),
            offset: SEGMENT_MAGIC.len() as u64,
            messages_before: 0,
            records_before: 0,
        };
        self.save_head()?;
        Ok(lost)
    }

    /// Reads up to `max_messages` (and about `max_bytes`) from the head without consuming
    /// them; `consume` then removes a prefix of what was read.
    pub fn peek(
        &mut self,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<Vec<OutMessage>, SpoolError> {
        self.peeked.clear();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut pos = (self.head.seq, self.head.offset);
        let mut index = self.segments.iter().position(|s| s.seq == pos.0);
        while let Some(i) = index {
            let segment = &self.segments[i];
            let (seq, end) = (segment.seq, segment.bytes);
            if pos.0 != seq {
                pos = (seq, SEGMENT_MAGIC.len() as u64);
            }
            while pos.1 < end && out.len() < max_messages && bytes < max_bytes {
                let path = segment_path(&self.dir, seq);
                let reader = match &mut self.reader {
                    Some(r) if r.seq == seq => r,
                    _ => {
                        let file = File::open(&path).map_err(io_err(&path))?;
                        self.reader.insert(SegmentReader {
                            seq,
                            pos: 0,
                            reader: BufReader::new(file),
                        })
                    }
                };
                if reader.pos != pos.1 {
                    // Seeking drops the read buffer: only when not already there.
                    reader
                        .reader
                        .seek(SeekFrom::Start(pos.1))
                        .map_err(io_err(&path))?;
                    reader.pos = pos.1;
                }
                let entry = read_entry(&mut reader.reader);
                let Ok(Some((message, len))) = entry else {
                    self.reader = None;
                    entry.map_err(io_err(&path))?;
                    // A clean end inside a scanned segment cannot happen; stop rather than loop.
                    break;
                };
                reader.pos += len;
                pos.1 += len;
                bytes += message.body.len();
                self.peeked.push((seq, pos.1, u64::from(message.records)));
                out.push(message);
            }
            if out.len() >= max_messages || bytes >= max_bytes {
                break;
            }
            index = (i + 1 < self.segments.len()).then_some(i + 1);
        }
        Ok(out)
    }

    /// Removes the first `n` messages returned by the last `peek` and saves the position.
    /// Segments read to the end are deleted.
    pub fn consume(&mut self, n: usize) -> Result<(), SpoolError> {
        if n == 0 {
            return Ok(());
        }
        let upto: Vec<(u64, u64, u64)> = self.peeked.drain(..n.min(self.peeked.len())).collect();
        let Some(&(last_seq, last_end, _)) = upto.last() else {
            return Ok(());
        };
        for (seq, _, records) in upto {
            if seq != self.head.seq {
                // Moved into a later segment: the earlier one is done.
                self.retire_head_segment()?;
                self.head.seq = seq;
            }
            self.head.messages_before += 1;
            self.head.records_before += records;
        }
        self.head.offset = last_end;
        debug_assert_eq!(self.head.seq, last_seq);
        // A fully read segment goes (the next append starts a new one).
        if self
            .segments
            .front()
            .is_some_and(|s| s.seq == self.head.seq && self.head.offset >= s.bytes)
        {
            self.retire_head_segment()?;
        }
        self.save_head()
    }

    /// Deletes the head segment and moves the head to the start of the next one.
    fn retire_head_segment(&mut self) -> Result<(), SpoolError> {
        if let Some(front) = self.segments.pop_front() {
            if self.writer.as_ref().is_some_and(|(s, _)| *s == front.seq) {
                self.writer = None;
            }
            if self.reader.as_ref().is_some_and(|r| r.seq == front.seq) {
                self.reader = None;
            }
            let path = segment_path(&self.dir, front.seq);
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        self.head = Head {
            seq: self.segments.front().map_or(self.next_seq, |s| s.seq),
            offset: SEGMENT_MAGIC.len() as u64,
            messages_before: 0,
            records_before: 0,
        };
        Ok(())
    }

    fn save_head(&self) -> Result<(), SpoolError> {
        let path = self.dir.join(HEAD_FILE);
        let tmp = self.dir.join(format!("{HEAD_FILE}.tmp"));
        fs::write(&tmp, format!("{} {}\n", self.head.seq, self.head.offset))
            .map_err(io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_err(&path))
    }
}

/// A buffered reader of one segment, and where it stands.
#[derive(Debug)]
struct SegmentReader {
    seq: u64,
    pos: u64,
    reader: BufReader<File>,
}

/// Entries encoded but not yet written to the tail segment.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    messages: u64,
    records: u64,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.{SEGMENT_EXTENSION}"))
}

fn read_head(path: &Path) -> Option<(u64, u64)> {
    let text = fs::read_to_string(path).ok()?;
    let mut parts = text.split_whitespace();
    let seq = parts.next()?.parse().ok()?;
    let offset = parts.next()?.parse().ok()?;
    Some((seq, offset))
}

struct Scan {
    /// None when the file is not a spool segment (or empty): it is removed.
    segment: Option<Segment>,
    /// Head inside this segment, when the saved head points into it.
    head: Option<Head>,
    damaged_bytes: u64,
}

/// Reads a segment through, verifying every entry; cuts off a damaged tail.
fn scan_segment(path: &Path, head_offset: Option<u64>) -> Result<Scan, SpoolError> {
    let seq = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_default();
    let file = File::open(path).map_err(io_err(path))?;
    let file_len = file.metadata().map_err(io_err(path))?.len();
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 8];
    if reader.read_exact(&mut magic).is_err() || &magic != SEGMENT_MAGIC {
        return Ok(Scan {
            segment: None,
            head: None,
            damaged_bytes: file_len,
        });
    }
    let mut offset = SEGMENT_MAGIC.len() as u64;
    let (mut messages, mut records) = (0u64, 0u64);
    let mut head = None;
    loop {
        if head.is_none() && head_offset.is_some_and(|h| h <= offset) {
            head = Some(Head {
                seq,
                offset,
                messages_before: messages,
                records_before: records,
            });
        }
        match read_entry(&mut reader) {
            Ok(Some((message, len))) => {
                offset += len;
                messages += 1;
                records += u64::from(message.records);
            }
            Ok(None) | Err(_) => break,
        }
    }
    if head_offset.is_some() && head.is_none() {
        head = Some(Head {
            seq,
            offset,
            messages_before: messages,
            records_before: records,
        });
    }
    let damaged_bytes = file_len - offset.min(file_len);
    if damaged_bytes > 0 {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        file.set_len(offset).map_err(io_err(path))?;
        file.sync_data().map_err(io_err(path))?;
    }
    Ok(Scan {
        segment: Some(Segment {
            seq,
            bytes: offset,
            messages,
            records,
        }),
        head,
        damaged_bytes,
    })
}

/// Reads one framed entry; `Ok(None)` at a clean end, `Err` for a torn or corrupt one.
fn read_entry(reader: &mut impl Read) -> std::io::Result<Option<(OutMessage, u64)>> {
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

fn corrupt(what: &'static str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u32, body_len: usize) -> OutMessage {
        OutMessage {
            routing_key: format!("ticker.x.S{n}-USDT-USDT"),
            message_id: format!("{n:032x}"),
            kind: "ticker".into(),
            timestamp: 1_700_000_000 + u64::from(n),
            records: 1,
            body: vec![b'a' + (n % 26) as u8; body_len],
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fc-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn drain(spool: &mut Spool) -> Vec<OutMessage> {
        let mut all = Vec::new();
        loop {
            let chunk = spool.peek(7, 1 << 20).unwrap();
            if chunk.is_empty() {
                break;
            }
            spool.consume(chunk.len()).unwrap();
            all.extend(chunk);
        }
        all
    }

    #[test]
    fn fifo_across_segments_and_reopen() {
        let d = dir("fifo");
        let (mut spool, report) = Spool::open(&d, 64 * 1024).unwrap();
        assert_eq!(report, OpenReport::default());
        let batch: Vec<_> = (0..100).map(|n| message(n, 300)).collect();
        let r = spool.append(&batch).unwrap();
        assert_eq!(r.spooled_records, 100);
        assert_eq!(r.dropped_records, 0);
        assert!(spool.segments.len() > 1, "several segments");
        // Consume part, reopen, the rest comes back in order.
        let first = spool.peek(10, 1 << 20).unwrap();
        spool.consume(4).unwrap();
        assert_eq!(first[0].message_id, batch[0].message_id);
        drop(spool);
        let (mut spool, report) = Spool::open(&d, 64 * 1024).unwrap();
        assert_eq!(report.records, 96);
        let rest = drain(&mut spool);
        let ids: Vec<_> = rest.iter().map(|m| m.message_id.clone()).collect();
        let want: Vec<_> = batch[4..].iter().map(|m| m.message_id.clone()).collect();
        assert_eq!(ids, want);
        assert_eq!(rest[5], batch[9]);
        assert!(spool.is_empty());
        assert!(spool.bytes() <= SEGMENT_MAGIC.len() as u64);
        // Appending after draining works and starts clean.
        spool.append(&batch[..3]).unwrap();
        assert_eq!(drain(&mut spool).len(), 3);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn full_spool_drops_oldest_and_counts() {
        let d = dir("full");
        let max = 64 * 1024;
        let (mut spool, _) = Spool::open(&d, max).unwrap();
        let mut dropped = 0;
        let mut spooled = 0;
        for round in 0..20u32 {
            let batch: Vec<_> = (0..20).map(|n| message(round * 20 + n, 400)).collect();
            let r = spool.append(&batch).unwrap();
            dropped += r.dropped_records;
            spooled += r.spooled_records;
            assert!(spool.bytes() <= max, "{} > {max}", spool.bytes());
        }
        assert_eq!(spooled, 400);
        assert!(dropped > 0);
        assert_eq!(spool.records() + dropped, 400);
        let rest = drain(&mut spool);
        // What is left is the newest, in order.
        assert_eq!(rest.last().unwrap().message_id, format!("{:032x}", 399));
        let ns: Vec<u64> = rest
            .iter()
            .map(|m| u64::from_str_radix(&m.message_id, 16).unwrap())
            .collect();
        assert!(ns.windows(2).all(|w| w[1] == w[0] + 1));
        // An oversized message is dropped, not spooled.
        let r = spool.append(&[message(1, max as usize)]).unwrap();
        assert_eq!((r.spooled_records, r.dropped_records), (0, 1));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn torn_tail_is_cut_off() {
        let d = dir("torn");
        let (mut spool, _) = Spool::open(&d, 1 << 20).unwrap();
        spool.append(&[message(1, 100), message(2, 100)]).unwrap();
        let seq = spool.segments.back().unwrap().seq;
        drop(spool);
        let path = segment_path(&d, seq);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let (mut spool, report) = Spool::open(&d, 1 << 20).unwrap();
        assert_eq!(report.records, 2);
        assert_eq!(report.damaged_bytes, 6);
        spool.append(&[message(3, 100)]).unwrap();
        let all = drain(&mut spool);
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].message_id, format!("{:032x}", 3));
        let _ = fs::remove_dir_all(&d);
    }
}
