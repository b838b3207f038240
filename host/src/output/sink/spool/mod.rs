//! The AMQP sink's on-disk spool: a bounded FIFO of encoded messages kept while the broker is
//! unreachable (or refuses them), replayed in order once it is back, and kept across restarts.
//! Owns the files under its folder and nothing else; knows nothing about AMQP connections.
//! Must not lose a message silently: whatever it drops to stay inside its size limit (the
//! oldest segment first) is counted and returned to the caller, which reports it.
//!
//! Layout: numbered segment files `<seq>.spool` (20 digits), each a magic header followed by
//! framed entries `[u32 payload length][u32 CRC-32 of payload][payload]` (little-endian), and a
//! `head` file with the read position (`<seq> <offset>`). Appends are written whole and
//! `fsync`ed before they are acknowledged. An append either lands whole or not at all: when a
//! write or sync fails (a full disk), every byte and segment that append wrote is cut back
//! before the error is returned, so a retry never finds half an entry or a duplicate in front
//! of it; a segment that cannot be cut back is sealed at its last good length and appends move
//! to a new segment. A torn entry at the end of a segment (a crash mid-write) is cut off at the
//! next open. Damage inside a segment (an entry whose checksum or frame does not verify) is
//! skipped: the reader finds the next intact entry after it and goes on, so one bad entry never
//! stops the replay of the good ones behind it. The head is saved after each consumed chunk; a crash in
//! between only replays that chunk again (delivery is at-least-once, consumers dedup by
//! `message_id`). The size limit counts whole files, consumed parts of the head segment
//! included, so the folder never grows past `max_bytes`.
//!
//! All methods do blocking file I/O: call them off the async runtime (`spawn_blocking`).
//! Reading segments back (verification, damage, one entry) is `scan`.

use std::{
    collections::VecDeque,
    fs::{self, File, OpenOptions},
    io::{BufReader, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use super::wire::OutMessage;

mod scan;

use scan::{corrupt, cut_back, read_entry, scan_segment, ScanMode};

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
/// Smallest payload of a valid entry: records (u32), timestamp (u64) and three length bytes.
const MIN_PAYLOAD_BYTES: u32 = 4 + 8 + 3;
/// Times one `peek` verifies a segment again before it gives up with an error (each pass
/// turns the damage it meets into holes, so more than a few means the file cannot be read).
const MAX_RESCANS_PER_PEEK: u32 = 4;
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
    /// Bytes cut off or skipped in damaged segments (torn writes, corruption); the records in
    /// them are lost, those after them are kept.
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
    /// Length of the segment's good data, header included. Reading and appending never go
    /// past it (a sealed segment may have garbage beyond it on disk until the next open).
    bytes: u64,
    messages: u64,
    records: u64,
    /// Damaged byte ranges `[start, end)` inside the segment, in order: the reader jumps over
    /// them.
    holes: Vec<(u64, u64)>,
}

impl Segment {
    fn empty(seq: u64) -> Self {
        Self {
            seq,
            bytes: SEGMENT_MAGIC.len() as u64,
            messages: 0,
            records: 0,
            holes: Vec::new(),
        }
    }

    /// The end of the hole `offset` lies in, if it lies in one.
    fn hole_covering(&self, offset: u64) -> Option<u64> {
        self.holes
            .iter()
            .find(|(start, end)| (*start..*end).contains(&offset))
            .map(|(_, end)| *end)
    }
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

impl Head {
    /// The head at the start of segment `seq` (nothing in it replayed yet).
    fn at_start(seq: u64) -> Head {
        Head {
            seq,
            offset: SEGMENT_MAGIC.len() as u64,
            messages_before: 0,
            records_before: 0,
        }
    }
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
    /// What was dropped since the last [`Spool::take_drops`].
    drops: SpoolDrops,
    /// Test hook: bytes the "disk" still takes before writes fail.
    #[cfg(test)]
    fail_after: Option<usize>,
}

/// Records and bytes the spool dropped: by its size limit, or with damaged data.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpoolDrops {
    /// Records evicted to stay within the size limit (oldest first), or too large for it.
    pub full_records: u64,
    /// Records lost with damaged entries found while replaying.
    pub damaged_records: u64,
    /// Damaged bytes skipped or cut off (at open and while replaying).
    pub damaged_bytes: u64,
}

/// Where the spool stood before an append, to undo it.
struct AppendMark {
    next_seq: u64,
    /// The tail segment then: (seq, bytes, messages, records).
    tail: Option<(u64, u64, u64, u64)>,
}

/// The sequence numbers of the segment files in `dir`, oldest first.
fn segment_seqs(dir: &Path) -> Result<Vec<u64>, SpoolError> {
    let mut seqs = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
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
    Ok(seqs)
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, keeping what a previous run left there.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<(Self, OpenReport), SpoolError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let seqs = segment_seqs(dir)?;
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
            let scan = scan_segment(
                &path,
                saved_head.filter(|(s, _)| *s == seq).map(|h| h.1),
                ScanMode::Open,
            )?;
            report.damaged_bytes += scan.damaged_bytes;
            if scan.damaged_bytes > 0 {
                let holes = scan.segment.as_ref().map_or(0, |s| s.holes.len());
                tracing::error!(segment = %path.display(), bytes = scan.damaged_bytes, skipped_ranges = holes, "damaged spool data skipped or cut off; the intact entries around it are kept");
            }
            let Some(scan_ok) = scan.segment else {
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            };
            if head.is_none() {
                head = Some(scan.head.unwrap_or(Head::at_start(seq)));
            }
            segments.push_back(scan_ok);
        }
        let next_seq = segments.back().map_or(0, |s| s.seq + 1);
        let head = head.unwrap_or(Head::at_start(next_seq));
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
            drops: SpoolDrops {
                damaged_bytes: report.damaged_bytes,
                ..SpoolDrops::default()
            },
            #[cfg(test)]
            fail_after: None,
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

    /// What was dropped since the last call (evicted to stay within the size limit, too large
    /// for the spool, or lost with damaged data), whether the operation that dropped it
    /// succeeded or not. The caller adds it to its counters.
    pub fn take_drops(&mut self) -> SpoolDrops {
        std::mem::take(&mut self.drops)
    }

    /// Appends `messages` in order and syncs them to disk. To stay within the size limit it
    /// first drops the oldest segments; a message larger than the whole spool is dropped.
    /// `spooled_records` counts what this call accepted; records dropped later (even by this
    /// same call, when it wraps around a small spool) are counted in `dropped_records`.
    ///
    /// All or nothing: on an error (a full disk, a failed sync) everything this call wrote is
    /// cut back before it returns, so the caller can retry the same messages without leaving
    /// a partial entry or a duplicate behind. Drops made to make room are not undone; they are
    /// also counted in [`Spool::take_drops`].
    pub fn append(&mut self, messages: &[OutMessage]) -> Result<AppendReport, SpoolError> {
        let mark = AppendMark {
            next_seq: self.next_seq,
            tail: self
                .segments
                .back()
                .map(|s| (s.seq, s.bytes, s.messages, s.records)),
        };
        let mut report = AppendReport::default();
        match self.append_all(messages, &mut report) {
            Ok(()) => Ok(report),
            Err(e) => {
                self.roll_back(&mark);
                Err(e)
            }
        }
    }

    fn append_all(
        &mut self,
        messages: &[OutMessage],
        report: &mut AppendReport,
    ) -> Result<(), SpoolError> {
        let magic = SEGMENT_MAGIC.len() as u64;
        let mut pending = Pending::default();
        for message in messages {
            let entry_len = FRAME_HEADER + message.encoded_len() as u64;
            if entry_len + magic > self.max_bytes {
                report.dropped_records += u64::from(message.records);
                report.dropped_messages += 1;
                self.drops.full_records += u64::from(message.records);
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
        Ok(())
    }

    /// Undoes a failed append: deletes the segments it created and cuts the tail it found back
    /// to the length it had. A tail that cannot be cut back is sealed (no more appends to it;
    /// reading stops at its good length, the next open cuts the rest).
    fn roll_back(&mut self, mark: &AppendMark) {
        self.peeked.clear();
        while self.segments.back().is_some_and(|s| s.seq >= mark.next_seq) {
            let Some(created) = self.segments.pop_back() else {
                break;
            };
            self.close_handles(created.seq);
            let path = segment_path(&self.dir, created.seq);
            if let Err(e) = fs::remove_file(&path) {
                // Its entries would be replayed again after a restart (duplicates by
                // message_id, never a loss).
                tracing::error!(segment = %path.display(), error = %e, "cannot remove a spool segment of a failed append");
            }
        }
        if self.segments.is_empty() {
            self.head = Head::at_start(self.next_seq);
        }
        let Some((seq, bytes, messages, records)) = mark.tail else {
            return;
        };
        let Some(tail) = self.segments.back_mut().filter(|s| s.seq == seq) else {
            return;
        };
        tail.bytes = bytes;
        tail.messages = messages;
        tail.records = records;
        if self.reader.as_ref().is_some_and(|r| r.seq == seq) {
            self.reader = None;
        }
        let path = segment_path(&self.dir, seq);
        let cut = match &mut self.writer {
            Some((writer_seq, file)) if *writer_seq == seq => cut_back(file, bytes),
            _ => OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|mut file| cut_back(&mut file, bytes)),
        };
        if let Err(e) = cut {
            tracing::warn!(segment = %path.display(), error = %e, good_bytes = bytes, "cannot cut a spool segment back after a failed append; sealed at its last good entry");
            if self.writer.as_ref().is_some_and(|(s, _)| *s == seq) {
                self.writer = None;
            }
        }
    }

    /// Writes buffered entries to the tail segment.
    fn flush_pending(&mut self, pending: &mut Pending) -> Result<(), SpoolError> {
        if pending.bytes.is_empty() {
            return Ok(());
        }
        if let (Some((seq, file)), Some(tail)) = (&mut self.writer, self.segments.back_mut()) {
            #[cfg(test)]
            if let Some(room) = self.fail_after.as_mut() {
                // Test hook: the disk fills after `room` more bytes (a partial write, then an
                // error), as a real ENOSPC does.
                let written = pending.bytes.len().min(*room);
                *room -= written;
                if written < pending.bytes.len() {
                    file.write_all(&pending.bytes[..written])
                        .map_err(io_err(&segment_path(&self.dir, *seq)))?;
                    return Err(SpoolError::Io {
                        path: segment_path(&self.dir, *seq),
                        source: std::io::Error::from_raw_os_error(28),
                    });
                }
            }
            file.write_all(&pending.bytes)
                .map_err(io_err(&segment_path(&self.dir, *seq)))?;
            tail.bytes += pending.bytes.len() as u64;
            tail.messages += pending.messages;
            tail.records += pending.records;
        }
        *pending = Pending::default();
        Ok(())
    }

    /// Closes the current tail (synced) and creates the next segment file. A file it could
    /// not complete is removed again.
    fn start_segment(&mut self) -> Result<(), SpoolError> {
        if let Some((seq, file)) = self.writer.take() {
            file.sync_data()
                .map_err(io_err(&segment_path(&self.dir, seq)))?;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let path = segment_path(&self.dir, seq);
        let created = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))
            .and_then(|mut file| {
                file.write_all(SEGMENT_MAGIC).map_err(io_err(&path))?;
                // The new file's name must survive a crash too.
                File::open(&self.dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io_err(&self.dir))?;
                Ok(file)
            });
        let file = match created {
            Ok(file) => file,
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        };
        if self.segments.is_empty() {
            self.head = Head::at_start(seq);
        }
        self.segments.push_back(Segment::empty(seq));
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
        self.drops.full_records += lost.1;
        self.close_handles(oldest.seq);
        self.peeked.clear();
        let path = segment_path(&self.dir, oldest.seq);
        fs::remove_file(&path).map_err(io_err(&path))?;
        self.head = Head::at_start(self.segments.front().map_or(self.next_seq, |s| s.seq));
        self.save_head()?;
        Ok(lost)
    }

    /// Reads up to `max_messages` (and about `max_bytes`) from the head without consuming
    /// them; `consume` then removes a prefix of what was read. Damaged data is skipped: an
    /// entry that no longer verifies (the file changed on disk since it was scanned) makes the
    /// segment be verified again; what is damaged becomes a hole the reader jumps over, and the
    /// records lost with it are counted.
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
        let mut rescans = 0;
        while let Some(i) = index {
            let (seq, end) = (self.segments[i].seq, self.segments[i].bytes);
            if pos.0 != seq {
                pos = (seq, SEGMENT_MAGIC.len() as u64);
            }
            while pos.1 < end && out.len() < max_messages && bytes < max_bytes {
                if let Some(hole_end) = self.segments[i].hole_covering(pos.1) {
                    pos.1 = hole_end;
                    continue;
                }
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
                match read_entry(&mut reader.reader) {
                    Ok(Some((message, len))) if pos.1 + len <= end => {
                        reader.pos += len;
                        pos.1 += len;
                        bytes += message.body.len();
                        self.peeked.push((seq, pos.1, u64::from(message.records)));
                        out.push(message);
                    }
                    damaged => {
                        self.reader = None;
                        rescans += 1;
                        if rescans > MAX_RESCANS_PER_PEEK {
                            // The segment verifies but cannot be read back (an I/O error that
                            // persists): report it; the caller retries later.
                            damaged.map_err(io_err(&path))?;
                            return Err(SpoolError::Io {
                                path,
                                source: corrupt("entry verified but unreadable"),
                            });
                        }
                        self.rescan(i)?;
                    }
                }
            }
            if out.len() >= max_messages || bytes >= max_bytes {
                break;
            }
            index = (i + 1 < self.segments.len()).then_some(i + 1);
        }
        Ok(out)
    }

    /// Verifies segment `i` again up to its good length after a read found damage in it: the
    /// damage becomes holes, the counts shrink to the intact entries, the head keeps its place,
    /// and the records lost are counted.
    fn rescan(&mut self, i: usize) -> Result<(), SpoolError> {
        let Some(old) = self.segments.get(i) else {
            return Ok(());
        };
        let path = segment_path(&self.dir, old.seq);
        let at_head = old.seq == self.head.seq;
        let scan = scan_segment(
            &path,
            at_head.then_some(self.head.offset),
            ScanMode::Verify { limit: old.bytes },
        )?;
        let fresh = scan.segment.unwrap_or_else(|| Segment {
            holes: vec![(SEGMENT_MAGIC.len() as u64, old.bytes)],
            bytes: old.bytes,
            ..Segment::empty(old.seq)
        });
        let waiting_before = if at_head {
            old.records.saturating_sub(self.head.records_before)
        } else {
            old.records
        };
        let mut waiting_after = fresh.records;
        if at_head {
            if let Some(head) = scan.head {
                waiting_after = fresh.records.saturating_sub(head.records_before);
                self.head = head;
            }
        }
        let lost = waiting_before.saturating_sub(waiting_after);
        let damaged: u64 = fresh.holes.iter().map(|(a, b)| b - a).sum();
        let damaged_before: u64 = old.holes.iter().map(|(a, b)| b - a).sum();
        tracing::error!(segment = %path.display(), lost_records = lost, damaged_bytes = damaged.saturating_sub(damaged_before), "damaged spool entries found while replaying; skipped, the intact entries after them are kept");
        self.drops.damaged_records += lost;
        self.drops.damaged_bytes += damaged.saturating_sub(damaged_before);
        if let Some(slot) = self.segments.get_mut(i) {
            *slot = fresh;
        }
        Ok(())
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
            self.close_handles(front.seq);
            let path = segment_path(&self.dir, front.seq);
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        self.head = Head::at_start(self.segments.front().map_or(self.next_seq, |s| s.seq));
        Ok(())
    }

    /// Closes the writer and the reader of segment `seq`, where they are open.
    fn close_handles(&mut self, seq: u64) {
        if self.writer.as_ref().is_some_and(|(s, _)| *s == seq) {
            self.writer = None;
        }
        if self.reader.as_ref().is_some_and(|r| r.seq == seq) {
            self.reader = None;
        }
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

#[cfg(test)]
mod tests {
    use super::scan::first_intact_entry;
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

    /// Message ids of what the spool replays, in order.
    fn ids(messages: &[OutMessage]) -> Vec<String> {
        messages.iter().map(|m| m.message_id.clone()).collect()
    }

    #[test]
    fn a_failed_append_leaves_nothing_behind_and_the_retry_lands_once() {
        let d = dir("enospc");
        let (mut spool, _) = Spool::open(&d, 1 << 20).unwrap();
        let first: Vec<_> = (0..5).map(|n| message(n, 200)).collect();
        spool.append(&first).unwrap();
        let good_len = fs::metadata(segment_path(&d, spool.segments[0].seq))
            .unwrap()
            .len();
        // The disk fills in the middle of the next append's second entry.
        let second: Vec<_> = (5..10).map(|n| message(n, 200)).collect();
        spool.fail_after = Some(300);
        let e = spool.append(&second).unwrap_err();
        assert!(e.to_string().contains("No space left"), "{e}");
        assert_eq!(spool.records(), 5, "the failed append counts nothing");
        assert_eq!(
            fs::metadata(segment_path(&d, spool.segments[0].seq))
                .unwrap()
                .len(),
            good_len,
            "the partial entry is cut back"
        );
        // It keeps failing while the disk is full; nothing accumulates.
        spool.fail_after = Some(0);
        assert!(spool.append(&second).is_err());
        assert_eq!(spool.records(), 5);
        // Space returns: the retry lands once, after the first five, in order.
        spool.fail_after = None;
        spool.append(&second).unwrap();
        let want: Vec<_> = ids(&first).into_iter().chain(ids(&second)).collect();
        assert_eq!(ids(&drain(&mut spool)), want);
        // And after a restart nothing is found damaged.
        drop(spool);
        let (_, report) = Spool::open(&d, 1 << 20).unwrap();
        assert_eq!(report.damaged_bytes, 0);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_append_across_segments_removes_the_segments_it_created() {
        let d = dir("enospc-segments");
        let (mut spool, _) = Spool::open(&d, 64 * 1024).unwrap();
        spool.append(&[message(0, 300)]).unwrap();
        let before: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        // 40 entries of ~400 bytes span several 4 KiB segments; the disk fills late.
        let big: Vec<_> = (1..41).map(|n| message(n, 300)).collect();
        spool.fail_after = Some(12_000);
        assert!(spool.append(&big).is_err());
        let mut after: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        after.retain(|p| !p.ends_with(HEAD_FILE));
        assert_eq!(
            after.len(),
            1,
            "only the first segment is left: {after:?} (before {before:?})"
        );
        assert_eq!(spool.records(), 1);
        spool.fail_after = None;
        spool.append(&big).unwrap();
        assert_eq!(drain(&mut spool).len(), 41);
        let _ = fs::remove_dir_all(&d);
    }

    /// Writes raw spool entries (and garbage) into a segment file, as an older version that
    /// appended after a partial write left it.
    fn write_segment(path: &Path, parts: &[&[u8]]) {
        let mut bytes = SEGMENT_MAGIC.to_vec();
        for part in parts {
            bytes.extend_from_slice(part);
        }
        fs::write(path, bytes).unwrap();
    }

    fn entry(n: u32) -> Vec<u8> {
        let mut out = Vec::new();
        message(n, 150).encode_entry(&mut out);
        out
    }

    #[test]
    fn damage_inside_a_segment_is_skipped_and_the_entries_after_it_are_replayed() {
        let d = dir("damaged-middle");
        fs::create_dir_all(&d).unwrap();
        let torn = entry(2);
        let (a, b, c, e) = (entry(0), entry(1), entry(3), entry(4));
        // Entry 2 was cut after 70 bytes by a full disk; 3 and 4 were appended after it.
        write_segment(&segment_path(&d, 7), &[&a, &b, &torn[..70], &c, &e]);
        let (mut spool, report) = Spool::open(&d, 1 << 20).unwrap();
        assert_eq!(report.damaged_bytes, 70);
        assert_eq!(report.records, 4);
        let want: Vec<_> = [0, 1, 3, 4]
            .iter()
            .map(|&n| message(n, 150).message_id)
            .collect();
        assert_eq!(ids(&drain(&mut spool)), want);
        // Reopened after the replay: nothing left, nothing replayed twice.
        drop(spool);
        let (mut spool, report) = Spool::open(&d, 1 << 20).unwrap();
        assert_eq!((report.records, report.damaged_bytes), (0, 0));
        assert!(drain(&mut spool).is_empty());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_corrupt_length_in_the_middle_is_skipped_too() {
        let d = dir("damaged-length");
        fs::create_dir_all(&d).unwrap();
        let mut bad = entry(1);
        bad[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        write_segment(&segment_path(&d, 0), &[&entry(0), &bad, &entry(2)]);
        let (mut spool, report) = Spool::open(&d, 1 << 20).unwrap();
        assert_eq!(report.damaged_bytes, bad.len() as u64);
        let want: Vec<_> = [0, 2].iter().map(|&n| message(n, 150).message_id).collect();
        assert_eq!(ids(&drain(&mut spool)), want);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn corruption_found_while_replaying_is_skipped_counted_and_never_loops() {
        let d = dir("damaged-live");
        let (mut spool, _) = Spool::open(&d, 1 << 20).unwrap();
        let batch: Vec<_> = (0..6).map(|n| message(n, 150)).collect();
        spool.append(&batch).unwrap();
        let chunk = spool.peek(1, 1 << 20).unwrap();
        spool.consume(chunk.len()).unwrap();
        // Flip a byte in the body of entry 2 on disk, behind the spool's back.
        let path = segment_path(&d, spool.segments[0].seq);
        let mut bytes = fs::read(&path).unwrap();
        let entry_len = entry(0).len();
        let inside_entry_2 = SEGMENT_MAGIC.len() + 2 * entry_len + entry_len - 5;
        bytes[inside_entry_2] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        // (The reader has the first 8 KiB buffered; a later read goes to the file.)
        spool.reader = None;
        let rest = drain(&mut spool);
        let want: Vec<_> = [1, 3, 4, 5]
            .iter()
            .map(|&n| message(n, 150).message_id)
            .collect();
        assert_eq!(ids(&rest), want);
        let drops = spool.take_drops();
        assert_eq!((drops.damaged_records, drops.full_records), (1, 0));
        assert!(drops.damaged_bytes > 0);
        assert!(spool.is_empty());
        // Appends after the damage are read normally.
        spool.append(&[message(9, 150)]).unwrap();
        assert_eq!(ids(&drain(&mut spool)), [message(9, 150).message_id]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn finding_the_next_entry_ignores_garbage_that_only_looks_like_a_frame() {
        let good = entry(5);
        // A plausible length and strings but a wrong checksum, then random bytes, then a
        // real entry.
        let mut fake = entry(4);
        fake[4] ^= 1;
        let mut bytes = fake.clone();
        bytes.extend((0..500u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        let at = bytes.len();
        bytes.extend_from_slice(&good);
        assert_eq!(first_intact_entry(&bytes), Some(at));
        assert_eq!(first_intact_entry(&bytes[..at]), None);
        assert_eq!(first_intact_entry(&[]), None);
    }
}
