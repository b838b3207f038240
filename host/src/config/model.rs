//! The typed configuration: model, named defaults, semantic checks and path resolution.
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

use super::{
    amqp::AmqpSinkConfig,
    common::{default_sink_buffer_max_records, default_sink_queue, default_true},
    observe::{AlertsConfig, WebConfig},
    problem::ConfigProblem,
    quote::quote,
};
use crate::{
    config::breaker::BreakerConfig,
    config::duration::{ConfigDuration, PollInterval},
};

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
/// Follow-up rounds (pagination pages) allowed in one cycle, a guard against endless cursors.
pub const DEFAULT_MAX_PAGES: u32 = 100;
/// How long the plugin directory watcher waits for a file to settle before loading it.
pub const DEFAULT_PLUGIN_SETTLE: Duration = Duration::from_millis(200);
/// Plugin files, their directory and the config location must be writable only by their owner,
/// and owned by the service user or root (`[plugins] allow_insecure_permissions`): off.
pub const DEFAULT_ALLOW_INSECURE_PLUGIN_PERMISSIONS: bool = false;
/// Retired plugin versions (replaced or refused, kept mapped because a library is never
/// unloaded) tolerated before an alert says a restart will reclaim their memory
/// (`[plugins] max_retired`). A debug build of a plugin maps ~20 MB, a release build ~7.5 MB.
pub const DEFAULT_MAX_RETIRED_PLUGINS: usize = 16;
/// Agreeing cycles a replaced plugin's canary needs per kind before it serves
/// (`[plugins] canary_cycles`; 0 promotes at once).
pub const DEFAULT_CANARY_CYCLES: u32 = 3;
/// Upper bound of `[plugins] canary_cycles`.
pub const MAX_CANARY_CYCLES: u32 = 10_000;
/// Kinds polled more rarely than this are not waited for by a canary
/// (`[plugins] canary_max_kind_interval`): the hourly instrument list would hold every
/// replacement back for hours.
pub const DEFAULT_CANARY_MAX_KIND_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// Re-send an unchanged record this often (`[change_detection] heartbeat`).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(60);
/// Most cached hashes per exchange; beyond it the entries seen longest ago are evicted
/// (`[change_detection] max_entries`).
pub const DEFAULT_MAX_ENTRIES: usize = 50_000;
/// How long the config files must be quiet after a change before they are read: editors
/// write a file in several steps (temporary file, rename, chmod), and one save should cause
/// one reload. Well inside the 2-second "live after saving" promise (`[reload] settle`).
pub const DEFAULT_RELOAD_SETTLE: Duration = Duration::from_millis(300);
/// Upper bound of `[plugins] max_retired`: beyond it the alert could never matter.
pub const MAX_RETIRED_PLUGINS_LIMIT: usize = 10_000;
/// Length of a SHA-256 digest written in hex (`[plugins.pins]` values).
pub const SHA256_HEX_LEN: usize = 64;

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
    /// Circuit-breaker thresholds for every exchange (an exchange may override them).
    #[serde(default)]
    pub breaker: BreakerConfig,
    #[serde(default)]
    pub change_detection: ChangeDetectionConfig,
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    /// Exchange instances by id. The id is the record's `exchange` field; the plugin defaults to
    /// the plugin whose exchange id equals it (set `plugin` to run several instances of one).
    #[serde(default)]
    pub exchanges: BTreeMap<String, ExchangeConfig>,
    /// The web server: metrics, health, status API, dashboard (`[web]`).
    #[serde(default)]
    pub web: WebConfig,
    /// Alert rules and notifiers (`[alerts]`).
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Config hot reload (`[reload]`).
    #[serde(default)]
    pub reload: ReloadConfig,
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
    /// Load plugin files (and accept a config location) that are writable by group or others or
    /// owned by another user than the service user or root. For development only: every such
    /// file is still logged as a warning.
    #[serde(default = "default_allow_insecure_plugin_permissions")]
    pub allow_insecure_permissions: bool,
    /// Retired plugin versions (replaced, removed or refused after loading; their code stays
    /// mapped) tolerated before the `plugins_retired` alert says a restart will reclaim them.
    #[serde(default = "default_max_retired_plugins")]
    pub max_retired: usize,
    /// A replaced plugin first parses the same responses as the running version (a shadow
    /// canary: no extra requests); it serves once every kind agreed field by field for this
    /// many cycles, and is held back at the first disagreement (see docs/operations.md).
    /// 0: a replacement serves at once.
    #[serde(default = "default_canary_cycles")]
    pub canary_cycles: u32,
    /// Kinds polled more rarely than this are compared when they run but not waited for
    /// (unless every kind is).
    #[serde(default = "default_canary_max_kind_interval")]
    pub canary_max_kind_interval: ConfigDuration,
    /// Expected SHA-256 (hex) of the plugin file per exchange id. When any pin is set, every
    /// plugin file must match one before it is loaded (its exchange id is only known after its
    /// code runs), and must then declare the exchange id it is pinned for.
    #[serde(default)]
    pub pins: BTreeMap<String, String>,
}

impl PluginsConfig {
    /// The `[plugins]` problems as `"key: message"` lines.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_retired > MAX_RETIRED_PLUGINS_LIMIT {
            problems.push(format!(
                "plugins.max_retired: {} is above {MAX_RETIRED_PLUGINS_LIMIT}",
                self.max_retired
            ));
        }
        if self.canary_cycles > MAX_CANARY_CYCLES {
            problems.push(format!(
                "plugins.canary_cycles: {} is above {MAX_CANARY_CYCLES}",
                self.canary_cycles
            ));
        }
        for (id, hash) in &self.pins {
            if !is_identifier(id) {
                problems.push(format!(
                    "plugins.pins.{id}: exchange ids use letters, digits, '-' and '_' only"
                ));
            }
            if hash.len() != SHA256_HEX_LEN || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                problems.push(format!(
                    "plugins.pins.{id}: {hash:?} is not a SHA-256 in hex ({SHA256_HEX_LEN} characters; `futures-collector plugins --dir DIR` prints each file's)"
                ));
            }
        }
        problems
    }
}

/// Exchange and plugin ids: letters, digits, '-' and '_'.
pub fn is_identifier(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Where records go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
// Built once per (re)load; the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum SinkConfig {
    /// Append one JSON record per line to a file, flushed after every batch.
    Jsonl {
        path: PathBuf,
        #[serde(default = "default_sink_queue")]
        queue_batches: usize,
        /// Records held in memory while writes fail (a full disk); past it the oldest waiting
        /// batch is dropped and counted. 0: no memory buffer, workers wait instead.
        #[serde(default = "default_sink_buffer_max_records")]
        buffer_max_records: usize,
    },
    /// One JSON record per line on standard output.
    Stdout {
        #[serde(default = "default_sink_queue")]
        queue_batches: usize,
        /// As for `jsonl`.
        #[serde(default = "default_sink_buffer_max_records")]
        buffer_max_records: usize,
    },
    /// Publish to a RabbitMQ topic exchange with publisher confirms.
    Amqp(AmqpSinkConfig),
}

impl SinkConfig {
    pub fn queue_batches(&self) -> usize {
        match self {
            Self::Jsonl { queue_batches, .. } | Self::Stdout { queue_batches, .. } => {
                *queue_batches
            }
            Self::Amqp(amqp) => amqp.queue_batches,
        }
    }

    /// Records the sink task may hold in memory while the sink fails (0: none, workers wait).
    pub fn buffer_max_records(&self) -> usize {
        match self {
            Self::Jsonl {
                buffer_max_records, ..
            }
            | Self::Stdout {
                buffer_max_records, ..
            } => *buffer_max_records,
            Self::Amqp(amqp) => amqp.buffer_max_records,
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
    /// Breaker thresholds for this exchange only (replaces `[breaker]` as a whole).
    #[serde(default)]
    pub breaker: Option<BreakerConfig>,
}

/// Change detection (R2.2): unchanged records are not re-sent, except every `heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeDetectionConfig {
    /// `false` sends every record of every cycle.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// An unchanged record is re-sent this often, so consumers can tell "unchanged" from "dead".
    #[serde(default = "default_heartbeat")]
    pub heartbeat: ConfigDuration,
    /// Most cached hashes per exchange; the entries seen longest ago are evicted first.
    #[serde(default = "default_dedup_entries")]
    pub max_entries: usize,
}

impl Default for ChangeDetectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            heartbeat: default_heartbeat(),
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

fn default_heartbeat() -> ConfigDuration {
    ConfigDuration(DEFAULT_HEARTBEAT)
}
fn default_dedup_entries() -> usize {
    DEFAULT_MAX_ENTRIES
}

/// Graceful shutdown on SIGINT/SIGTERM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long cycles in progress may take to finish, and then how long the sink may take to
    /// write what is queued.
    #[serde(default = "default_grace")]
    pub grace: ConfigDuration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            grace: default_grace(),
        }
    }
}

/// Config hot reload: the config files are watched and a change is applied as a diff (SIGHUP
/// reloads too, watched or not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReloadConfig {
    /// Watch the config files and reload when they change. Turn off where file events are not
    /// delivered (some network file systems) and reload with SIGHUP instead.
    #[serde(default = "default_true")]
    pub watch: bool,
    /// How long the files must be quiet after a change before they are read (one save, one
    /// reload).
    #[serde(default = "default_reload_settle")]
    pub settle: ConfigDuration,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self {
            watch: true,
            settle: default_reload_settle(),
        }
    }
}

fn default_reload_settle() -> ConfigDuration {
    ConfigDuration(DEFAULT_RELOAD_SETTLE)
}

/// Default of `[shutdown] grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn default_grace() -> ConfigDuration {
    ConfigDuration(DEFAULT_SHUTDOWN_GRACE)
}

impl ExchangeConfig {
    pub fn plugin_id<'a>(&'a self, instance_id: &'a str) -> &'a str {
        self.plugin.as_deref().unwrap_or(instance_id)
    }

    /// Semantic checks of `[exchanges.<id>]`, as `"key: message"` lines.
    fn problems(&self, id: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_identifier(id) {
            problems.push(format!(
                "exchanges.{id}: ids use letters, digits, '-' and '_' only"
            ));
        }
        if let Some(b) = &self.breaker {
            problems.extend(b.problems(&format!("exchanges.{id}.breaker")));
        }
        if let Some(url) = &self.base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!(
                    "exchanges.{id}.base_url: {} is not an http(s) URL",
                    quote(url)
                ));
            }
        }
        problems
    }
}

impl HttpConfig {
    /// Semantic checks of `[http]`, as `"key: message"` lines.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let h = self;
        if h.timeout.0.is_zero() {
            problems.push("http.timeout: must be greater than zero".to_owned());
        }
        if h.timeout_floor.0.is_zero() || h.timeout_floor.0 > h.timeout.0 {
            problems.push(format!(
                "http.timeout_floor: {} must be > 0 and <= http.timeout ({})",
                h.timeout_floor, h.timeout
            ));
        }
        if !(h.timeout_multiplier >= 1.0 && h.timeout_multiplier.is_finite()) {
            problems.push(format!(
                "http.timeout_multiplier: {} must be at least 1",
                h.timeout_multiplier
            ));
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
        problems
    }
}

fn default_plugin_settle() -> ConfigDuration {
    ConfigDuration(DEFAULT_PLUGIN_SETTLE)
}
fn default_allow_insecure_plugin_permissions() -> bool {
    DEFAULT_ALLOW_INSECURE_PLUGIN_PERMISSIONS
}
fn default_max_retired_plugins() -> usize {
    DEFAULT_MAX_RETIRED_PLUGINS
}
fn default_canary_cycles() -> u32 {
    DEFAULT_CANARY_CYCLES
}
fn default_canary_max_kind_interval() -> ConfigDuration {
    ConfigDuration(DEFAULT_CANARY_MAX_KIND_INTERVAL)
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
    /// Loads a config file (TOML, YAML or JSON, with its `extends` chain) or a config directory
    /// (layers and the profile from the process environment), with `FUTURES_COLLECTOR__…`
    /// overrides and `${VAR}` secrets: [`super::load`] with the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let req = super::LoadRequest {
            path: path.to_owned(),
            profile: None,
        };
        super::load(&req, &super::Environment::from_process())
            .map(|loaded| loaded.config)
            .map_err(|errors| ConfigError::Invalid {
                path: path.to_owned(),
                message: errors.to_string(),
            })
    }

    /// Parses a TOML document; `base_dir` anchors relative paths.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self, String> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        config.check().map_err(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        config.resolve_paths(base_dir);
        Ok(config)
    }

    /// Semantic checks serde cannot express. Every problem is reported, not just the first.
    pub fn check(&self) -> Result<(), Vec<ConfigProblem>> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Every semantic problem, each with its key path (`http.timeout`) and message.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        self.problem_lines()
            .iter()
            .map(|line| ConfigProblem::from_line(line))
            .collect()
    }

    /// The semantic checks as `"key: message"` lines.
    fn problem_lines(&self) -> Vec<String> {
        let mut problems = self.http.problems();
        problems.extend(self.plugins.problems());
        problems.extend(self.breaker.problems("breaker"));
        if self.change_detection.heartbeat.0.is_zero() {
            problems.push("change_detection.heartbeat: must be greater than zero".to_owned());
        }
        if self.change_detection.max_entries == 0 {
            problems.push("change_detection.max_entries: must be at least 1".to_owned());
        }
        if let SinkConfig::Amqp(amqp) = &self.sink {
            problems.extend(amqp.problems());
        }
        if self.sink.queue_batches() == 0 {
            problems.push("sink.queue_batches: must be at least 1".to_owned());
        }
        for (id, ex) in &self.exchanges {
            problems.extend(ex.problems(id));
        }
        problems.extend(self.web.problems());
        problems.extend(self.alerts.problems());
        if self.reload.settle.0 > std::time::Duration::from_secs(1) {
            problems.push(format!(
                "reload.settle: {} is above 1s (a change must be live within 2 s of saving)",
                self.reload.settle
            ));
        }
        problems
    }

    fn resolve_paths(&mut self, base_dir: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base_dir.join(&*p);
            }
        };
        resolve(&mut self.plugins.dir);
        match &mut self.sink {
            SinkConfig::Jsonl { path, .. } => resolve(path),
            SinkConfig::Amqp(amqp) => amqp.resolve_paths(base_dir),
            SinkConfig::Stdout { .. } => {}
        }
    }

    /// The enabled exchange instances, in id order.
    pub fn enabled_exchanges(&self) -> impl Iterator<Item = (&String, &ExchangeConfig)> {
        self.exchanges.iter().filter(|(_, e)| e.enabled)
    }
}

/// The JSON Schema of the config file (schemas/config.schema.json), generated from the types
/// above: the same document in TOML, YAML or JSON form validates against it.
pub fn config_schema_text() -> String {
    let schema = schemars::schema_for!(Config);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod schema_file {
    /// A test fails when the checked-in schema differs from the code.
    /// The shipped config files validate against the generated schema: every profile's merged
    /// document (the loader checks it) and its effective config, defaults included.
    #[test]
    fn shipped_configs_validate_against_the_schema() {
        let schema: serde_json::Value = serde_json::from_str(&super::config_schema_text()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"));
        for profile in super::super::tests::SHIPPED_PROFILES {
            let req = super::super::LoadRequest {
                path: dir.to_owned(),
                profile: Some(profile.to_owned()),
            };
            let loaded = super::super::load(&req, &super::super::Environment::default())
                .unwrap_or_else(|e| panic!("{profile}: {e}"));
            let json = serde_json::to_value(&loaded.config).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| format!("{}: {e}", e.instance_path))
                .collect();
            assert!(errors.is_empty(), "{profile}: {errors:?}");
        }
        // And a wrong document does not.
        let bad =
            serde_json::json!({"plugins": {"dir": "p", "colour": 1}, "sink": {"type": "kafka"}});
        assert!(!validator.is_valid(&bad));
    }

    #[test]
    fn checked_in_config_schema_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/config.schema.json");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == super::config_schema_text(),
            "schemas/config.schema.json is out of date: run `cargo run -p futures-collector -- schema config > schemas/config.schema.json`"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_SINK_BUFFER_MAX_RECORDS, DEFAULT_SINK_QUEUE_BATCHES};

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
                queue_batches: DEFAULT_SINK_QUEUE_BATCHES,
                buffer_max_records: DEFAULT_SINK_BUFFER_MAX_RECORDS,
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

    /// Every shipped profile in config/ loads and names only known exchanges; the default
    /// (development) polls the real exchanges, demo the emulator.
    #[test]
    fn shipped_configs_are_valid() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"));
        for profile in super::super::tests::SHIPPED_PROFILES {
            let req = super::super::LoadRequest {
                path: dir.to_owned(),
                profile: Some(profile.to_owned()),
            };
            let loaded = super::super::load(&req, &super::super::Environment::default())
                .unwrap_or_else(|e| panic!("{profile}: {e}"));
            let c = &loaded.config;
            let ids: Vec<&str> = c.exchanges.keys().map(String::as_str).collect();
            assert_eq!(
                ids,
                [
                    "binance",
                    "bingx",
                    "bitget",
                    "bitmex",
                    "bybit",
                    "deribit",
                    "dydx",
                    "gate",
                    "htx",
                    "hyperliquid",
                    "krakenfutures",
                    "kucoinfutures",
                    "mexc",
                    "okx"
                ],
                "{profile}"
            );
            assert!(c.plugins.dir.ends_with("../target/release"), "{profile}");
            assert!(c.web.listen.ip().is_loopback(), "{profile}");
            let emulated = c.exchanges.values().all(|e| {
                e.base_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("http://127.0.0.1:8900/"))
            });
            let real = c.exchanges.values().all(|e| e.base_url.is_none());
            assert!(if profile == "demo" { emulated } else { real }, "{profile}");
        }
        let default = super::super::load(
            &super::super::LoadRequest {
                path: dir.to_owned(),
                profile: None,
            },
            &super::super::Environment::default(),
        )
        .unwrap();
        assert_eq!(default.profile.as_deref(), Some("development"));
        assert!(
            matches!(&default.config.sink, SinkConfig::Jsonl { path, .. } if path.ends_with("../data/records.jsonl"))
        );
    }
}
