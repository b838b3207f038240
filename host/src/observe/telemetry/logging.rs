//! Logging: the filter (`FUTURES_COLLECTOR_LOG`, `RUST_LOG`), the format (`--log-format`),
//! colours only on a terminal, and every line bounded by `log_lines`.
//!
//! Owns the subscriber. Must not be installed twice per process.

use tracing_subscriber::{fmt, fmt::MakeWriter, util::SubscriberInitExt as _, EnvFilter};

use super::log_lines::{self, LogFormat};

/// Default filter when neither variable is set.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Installs the global subscriber, writing to stderr (stdout may carry records).
pub fn init(format: LogFormat) {
    let filter = std::env::var("FUTURES_COLLECTOR_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG_FILTER));
    let _ = subscriber(format, filter, std::io::stderr, colours_on_stderr()).try_init();
}

/// ANSI colours only where a person reads them: stderr is a terminal and `NO_COLOR`
/// (no-color.org) is not set. A log written to a file or a journal stays plain text.
pub(super) fn colours_on_stderr() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The subscriber [`init`] installs: `format` lines through `filter` to `writer`, each line cut
/// at [`log_lines::MAX_LOG_LINE_BYTES`], with ANSI colours only when `colours` (pretty format).
pub(super) fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    colours: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = fmt()
        .with_ansi(colours && format == LogFormat::Pretty)
        .with_env_filter(filter)
        .with_writer(log_lines::BoundedLines::new(writer, format));
    match format {
        LogFormat::Pretty => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
    }
}
