//! Logging setup (tracing). Owns the subscriber; must not be called twice per process.
//! `FUTURES_COLLECTOR_LOG` (or `RUST_LOG`) sets the filter; `--log-format json` for production.

use tracing_subscriber::{fmt, EnvFilter};

/// Default filter when neither variable is set.
pub const DEFAULT_LOG_FILTER: &str = "info";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Installs the global subscriber, writing to stderr (stdout may carry records).
pub fn init(format: LogFormat) {
    let filter = std::env::var("FUTURES_COLLECTOR_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
