//! What several config sections share: the sink-wide buffer defaults every sink type uses, and
//! serde default helpers. Owns those values; must not depend on any section (the sections
//! depend on it).

/// Records waiting between the workers and the sink; when full, workers wait (back-pressure).
pub const DEFAULT_SINK_QUEUE_BATCHES: usize = 256;
/// Records the sink task holds in memory while its writes fail (a full disk), before it drops
/// the oldest waiting batch: about 70 MB at ~700 bytes a record, and 100 s or more of the three
/// shipped exchanges' changes.
pub const DEFAULT_SINK_BUFFER_MAX_RECORDS: usize = 100_000;

/// serde default of flags that are on unless turned off.
pub(super) fn default_true() -> bool {
    true
}
pub(super) fn default_sink_queue() -> usize {
    DEFAULT_SINK_QUEUE_BATCHES
}
pub(super) fn default_sink_buffer_max_records() -> usize {
    DEFAULT_SINK_BUFFER_MAX_RECORDS
}
