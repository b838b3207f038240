//! Building a plugin's `PluginInfo`: one [`kind`] per data kind.
//!
//! Owns: the shorthand every adapter's `info()` uses. Must not: decide a kind's values (the
//! adapter does, from its exchange's documentation).

use plugin_api::{KindSpec, RecordKind};

/// A data kind: `name` (the config's `intervals` key), what it `emits`, its poll interval when
/// the config gives none, whether it needs the instrument list first, and the one line
/// `futures-collector plugins` prints.
pub fn kind(
    name: &str,
    emits: RecordKind,
    default_interval_ms: u64,
    needs_instruments: bool,
    description: &str,
) -> KindSpec {
    KindSpec {
        name: name.into(),
        emits,
        default_interval_ms,
        needs_instruments,
        description: description.into(),
    }
}
