//! The typed configuration: model, named defaults, loading from TOML, and path resolution.
//! Owns what an operator can set and what each default is. Must not start anything: the
//! supervisor applies a config, this module only describes and validates it.
//!
//! Relative paths (`plugins.dir`, `sink.path`) resolve against the folder of the config file
//! they were written in, never against the process's working directory.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::{ConfigDuration, PollInterval};

/// Per-request timeout used when `[http] timeout` is not set.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body accepted (`[http] max_body_bytes`): Binance's full ticker list is
/// ~300 KiB, so 32 MiB leaves room for growth while bounding memory.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;
/// Shortest adaptive request timeout (`[http] timeout_floor`).
pub const DEFAULT_TIMEOUT_FLOOR: Duration = Duration::from_secs(1);
/// Adaptive timeout = multiplier × (smoothed latency + 4 × deviation), per endpoint.
pub const DEFAULT_TIMEOUT_MULTIPLIER: f64 = 2.0;
/// Concurrent requests per exchange (`[http] max_in_flight`), e.g. per-symbol open interest.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 8;
/// Retries of a transient failure before the request is given up for this cycle.
pub const DEFAULT_RETRIES: u32 = 2;
/// First backoff delay; doubles per attempt with full jitter.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Upper bound of one backoff delay.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Share of an exchange's documented rate limit the collector allows itself (0 < share ≤ 1),
/// leaving the rest for other clients on the same IP.
pub const DEFAULT_RATE_LIMIT_SHARE: f64 = 0.5;
/// Records waiting between the workers and the sink; when full, workers wait (back-pressure).
pub const DEFAULT_SINK_QUEUE_BATCHES: usize = 256;
/// Follow-up rounds (pagination pages) allowed in one cycle, a guard against endless cursors.
pub const DEFAULT_MAX_PAGES: u32 = 100;
/// How long the plugin directory watcher waits for a file to settle before loading it.
pub const DEFAULT_PLUGIN_SETTLE: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub plugins: PluginsConfig,
    pub sink: SinkConfig,
    #[serde(default)]
    pub http: HttpConfig,
    /// Exchange instances by id. The id is the record's `exchange` field; the plugin defaults to
    /// the plugin whose exchange id equals it (set `plugin` to run several instances of one).
    #[serde(default)]
    pub exchanges: BTreeMap<String, ExchangeConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Directory of plugin files (`*.so` on Linux), watched for new and replaced plugins.
    pub dir: PathBuf,
    /// Whether to watch `dir` for changes at run time.
    #[serde(default = "default_true")]
    pub watch: bool,
    /// How long a changed file must be quiet before it is loaded.
    #[serde(default = "default_plugin_settle")]
    pub settle: ConfigDuration,
}

/// Where records go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// Append one JSON record per line to a file, flushed after every batch.
    Jsonl {
        path: PathBuf,
        #[serde(default = "default_sink_queue")]
        queue_batches: usize,
    },
    /// One JSON record per line on standard output.
    Stdout {
        #[serde(default = "default_sink_queue")]
        queue_batches: usize,
    },
    /// Publish to a RabbitMQ topic exchange with publisher confirms.
    Amqp(AmqpSinkConfig),
}

// ---- AMQP sink settings (owned by the AMQP sink work; see host/src/sink/amqp.rs) ----

/// RabbitMQ (AMQP 0-9-1) sink settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmqpSinkConfig {
    /// Broker URL, `amqp://` or `amqps://` (credentials come from the environment, not here).
    pub url: String,
    #[serde(default = "default_sink_queue")]
    pub queue_batches: usize,
}

// ---- end of AMQP sink settings ----

impl SinkConfig {
    pub fn queue_batches(&self) -> usize {
        match self {
            Self::Jsonl { queue_batches, .. } | Self::Stdout { queue_batches } => *queue_batches,
            Self::Amqp(amqp) => amqp.queue_batches,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Longest a request may take (connect + headers + body); the adaptive timeout's ceiling.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// Learn each endpoint's timeout from its observed latency (between `timeout_floor` and
    /// `timeout`), so a hanging exchange is noticed in about a second, not at the ceiling.
    #[serde(default = "default_true")]
    pub adaptive_timeout: bool,
    #[serde(default = "default_timeout_floor")]
    pub timeout_floor: ConfigDuration,
    #[serde(default = "default_timeout_multiplier")]
    pub timeout_multiplier: f64,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
    #[serde(default = "default_in_flight")]
    pub max_in_flight: u32,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_backoff_base")]
    pub backoff_base: ConfigDuration,
    #[serde(default = "default_backoff_cap")]
    pub backoff_cap: ConfigDuration,
    #[serde(default = "default_rate_share")]
    pub rate_limit_share: f64,
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: default_timeout(),
            adaptive_timeout: true,
            timeout_floor: default_timeout_floor(),
            timeout_multiplier: DEFAULT_TIMEOUT_MULTIPLIER,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            retries: DEFAULT_RETRIES,
            backoff_base: default_backoff_base(),
            backoff_cap: default_backoff_cap(),
            rate_limit_share: DEFAULT_RATE_LIMIT_SHARE,
            max_pages: DEFAULT_MAX_PAGES,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Plugin exchange id to use; defaults to this instance's id.
    #[serde(default)]
    pub plugin: Option<String>,
    /// Override the plugin's real base URL (testnets, proxies, the emulator).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Poll interval per data kind (`instruments`, `tickers`, `funding`, `open_interest`);
    /// kinds not listed use the plugin's default; `"off"` disables a kind.
    #[serde(default)]
    pub intervals: BTreeMap<String, PollInterval>,
    /// Plugin-specific options, passed to the plugin as strings.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl ExchangeConfig {
    pub fn plugin_id<'a>(&'a self, instance_id: &'a str) -> &'a str {
        self.plugin.as_deref().unwrap_or(instance_id)
    }
}

fn default_true() -> bool {
    true
}
fn default_plugin_settle() -> ConfigDuration {
    ConfigDuration(DEFAULT_PLUGIN_SETTLE)
}
fn default_sink_queue() -> usize {
    DEFAULT_SINK_QUEUE_BATCHES
}
fn default_timeout() -> ConfigDuration {
    ConfigDuration(DEFAULT_REQUEST_TIMEOUT)
}
fn default_timeout_floor() -> ConfigDuration {
    ConfigDuration(DEFAULT_TIMEOUT_FLOOR)
}
fn default_timeout_multiplier() -> f64 {
    DEFAULT_TIMEOUT_MULTIPLIER
}
fn default_max_body() -> u64 {
    DEFAULT_MAX_BODY_BYTES
}
fn default_in_flight() -> u32 {
    DEFAULT_MAX_IN_FLIGHT
}
fn default_retries() -> u32 {
    DEFAULT_RETRIES
}
fn default_backoff_base() -> ConfigDuration {
    ConfigDuration(DEFAULT_BACKOFF_BASE)
}
fn default_backoff_cap() -> ConfigDuration {
    ConfigDuration(DEFAULT_BACKOFF_CAP)
}
fn default_rate_share() -> f64 {
    DEFAULT_RATE_LIMIT_SHARE
}
fn default_max_pages() -> u32 {
    DEFAULT_MAX_PAGES
}

impl Config {
    /// Reads, parses and checks a TOML config file; relative paths are resolved against the
    /// file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        Self::from_toml_str(&text, &base).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses a TOML document; `base_dir` anchors relative paths.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self, String> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        config.check()?;
        config.resolve_paths(base_dir);
        Ok(config)
    }

    /// Semantic checks serde cannot express. Every problem is reported, not just the first.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        let h = &self.http;
        if h.timeout.0.is_zero() {
            problems.push("http.timeout: must be greater than zero".to_owned());
        }
        if h.timeout_floor.0.is_zero() || h.timeout_floor.0 > h.timeout.0 {
            problems.push(format!("http.timeout_floor: {} must be > 0 and <= http.timeout ({})", h.timeout_floor, h.timeout));
        }
        if !(h.timeout_multiplier >= 1.0 && h.timeout_multiplier.is_finite()) {
            problems.push(format!("http.timeout_multiplier: {} must be at least 1", h.timeout_multiplier));
        }
        if !(h.rate_limit_share > 0.0 && h.rate_limit_share <= 1.0) {
            problems.push(format!(
                "http.rate_limit_share: {} is not in (0, 1]",
                h.rate_limit_share
            ));
        }
        if h.max_in_flight == 0 {
            problems.push("http.max_in_flight: must be at least 1".to_owned());
        }
        if h.max_body_bytes < 1024 {
            problems.push(format!(
                "http.max_body_bytes: {} is below 1024",
                h.max_body_bytes
            ));
        }
        if h.backoff_base.0 > h.backoff_cap.0 {
            problems.push(format!(
                "http.backoff_base: {} is above http.backoff_cap {}",
                h.backoff_base, h.backoff_cap
            ));
        }
        if self.sink.queue_batches() == 0 {
            problems.push("sink.queue_batches: must be at least 1".to_owned());
        }
        for (id, ex) in &self.exchanges {
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                problems.push(format!(
                    "exchanges.{id}: ids use letters, digits, '-' and '_' only"
                ));
            }
            if let Some(url) = &ex.base_url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    problems.push(format!(
                        "exchanges.{id}.base_url: {url:?} is not an http(s) URL"
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    fn resolve_paths(&mut self, base_dir: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base_dir.join(&*p);
            }
        };
        resolve(&mut self.plugins.dir);
        if let SinkConfig::Jsonl { path, .. } = &mut self.sink {
            resolve(path);
        }
    }

    /// The enabled exchange instances, in id order.
    pub fn enabled_exchanges(&self) -> impl Iterator<Item = (&String, &ExchangeConfig)> {
        self.exchanges.iter().filter(|(_, e)| e.enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [plugins]
        dir = "plugins"
        [sink]
        type = "jsonl"
        path = "data/records.jsonl"
        [exchanges.binance]
        base_url = "http://127.0.0.1:9000/binance"
        [exchanges.binance.intervals]
        tickers = "5s"
        open_interest = "off"
    "#;

    #[test]
    fn loads_with_defaults_and_resolves_paths() {
        let c = Config::from_toml_str(MINIMAL, Path::new("/etc/fc")).unwrap();
        assert_eq!(c.plugins.dir, PathBuf::from("/etc/fc/plugins"));
        assert!(c.plugins.watch);
        assert_eq!(
            c.sink,
            SinkConfig::Jsonl {
                path: "/etc/fc/data/records.jsonl".into(),
                queue_batches: DEFAULT_SINK_QUEUE_BATCHES
            }
        );
        assert_eq!(c.http, HttpConfig::default());
        let b = &c.exchanges["binance"];
        assert!(b.enabled);
        assert_eq!(b.plugin_id("binance"), "binance");
        assert_eq!(b.intervals["tickers"].0, Some(Duration::from_secs(5)));
        assert_eq!(b.intervals["open_interest"].0, None);
    }

    #[test]
    fn rejects_bad_configs_naming_the_key() {
        let cases = [
            (
                MINIMAL.replace("tickers = \"5s\"", "tickers = \"0s\""),
                "tickers",
            ),
            (
                MINIMAL.replace("tickers = \"5s\"", "tickers = \"fast\""),
                "tickers",
            ),
            (
                MINIMAL.replace("[plugins]", "[plugins]\ncolour = \"blue\""),
                "colour",
            ),
            (
                MINIMAL.replace("type = \"jsonl\"", "type = \"kafka\""),
                "kafka",
            ),
            (
                MINIMAL.replace("http://127.0.0.1:9000/binance", "ftp://x"),
                "exchanges.binance.base_url",
            ),
            (
                format!("{MINIMAL}\n[http]\nrate_limit_share = 1.5"),
                "http.rate_limit_share",
            ),
            (
                format!("{MINIMAL}\n[http]\nbackoff_base = \"10s\"\nbackoff_cap = \"1s\""),
                "http.backoff_base",
            ),
            (MINIMAL.replace("[sink]", "[sink\n"), "TOML parse error"),
        ];
        for (text, needle) in cases {
            let e = Config::from_toml_str(&text, Path::new(".")).unwrap_err();
            assert!(e.contains(needle), "expected {needle:?} in: {e}");
        }
    }
}

#[cfg(test)]
mod shipped_configs {
    use super::*;

    /// The configs in config/ parse and name only known exchanges.
    #[test]
    fn shipped_configs_are_valid() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"));
        for name in ["default.toml", "demo.toml"] {
            let c = Config::load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let ids: Vec<&str> = c.exchanges.keys().map(String::as_str).collect();
            assert_eq!(ids, ["binance", "bybit", "okx"], "{name}");
            assert!(c.plugins.dir.ends_with("../target/release"), "{name}");
        }
    }
}
