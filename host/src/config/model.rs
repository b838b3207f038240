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
    quote::{quote, shorten_value_in},
    ConfigProblem,
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
/// Records waiting between the workers and the sink; when full, workers wait (back-pressure).
pub const DEFAULT_SINK_QUEUE_BATCHES: usize = 256;
/// Records the sink task holds in memory while its writes fail (a full disk), before it drops
/// the oldest waiting batch: about 70 MB at ~700 bytes a record, and 100 s or more of the three
/// shipped exchanges' changes.
pub const DEFAULT_SINK_BUFFER_MAX_RECORDS: usize = 100_000;
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
/// Every alert rule id (the `rule` label of alerts, the values `[alerts] disabled` accepts).
pub const ALERT_RULE_IDS: [&str; 12] = [
    "exchange_down",
    "breaker_open",
    "error_rate",
    "latency",
    "stale",
    "sink_failing",
    "sink_spooling",
    "memory",
    "config_reload_failed",
    "plugin_refused",
    "plugins_retired",
    "plugin_canary_held_back",
];

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

// ---- AMQP sink settings (owned by the AMQP sink work; see host/src/output/sink/amqp/) ----

/// Topic exchange the AMQP sink declares and publishes to (`[sink] exchange`).
pub const DEFAULT_AMQP_EXCHANGE: &str = "futures-collector";
/// Environment variable read for the broker user name (`[sink] username_env`).
pub const DEFAULT_AMQP_USERNAME_ENV: &str = "FUTURES_COLLECTOR_AMQP_USERNAME";
/// Environment variable read for the broker password (`[sink] password_env`).
pub const DEFAULT_AMQP_PASSWORD_ENV: &str = "FUTURES_COLLECTOR_AMQP_PASSWORD";
/// `app_id` property of every published message (`[sink] app_id`).
pub const DEFAULT_AMQP_APP_ID: &str = "futures-collector";
/// Records per message (`[sink] batch_max`): 1 publishes one record per message (no batching).
pub const DEFAULT_AMQP_BATCH_MAX: usize = 1;
/// `[sink] linger`: off — records are published as each cycle hands them over.
pub const DEFAULT_AMQP_LINGER: Duration = Duration::ZERO;
/// Longest allowed `linger`: a record must never wait long enough to look stale.
pub const MAX_AMQP_LINGER: Duration = Duration::from_secs(5);
/// Largest allowed `batch_max`: bounds one message's size (~0.5 KiB per record).
pub const MAX_AMQP_BATCH_MAX: usize = 10_000;
/// Messages published and not yet confirmed by the broker at once (`[sink] max_unconfirmed`).
/// Bounds the sink's in-memory buffer; 1024 keeps the pipe full on a local broker.
pub const DEFAULT_AMQP_MAX_UNCONFIRMED: usize = 1024;
/// Longest wait without any confirm progress before the connection is declared stuck, torn
/// down and its unconfirmed messages spooled (`[sink] confirm_timeout`).
pub const DEFAULT_AMQP_CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the TCP/TLS/AMQP handshake of one connection attempt (`[sink] connect_timeout`).
pub const DEFAULT_AMQP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// First delay between reconnection attempts; doubles per failure, full jitter
/// (`[sink] reconnect_backoff_base`).
pub const DEFAULT_AMQP_RECONNECT_BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Largest delay between reconnection attempts (`[sink] reconnect_backoff_cap`); reconnection
/// never gives up.
pub const DEFAULT_AMQP_RECONNECT_BACKOFF_CAP: Duration = Duration::from_secs(15);
/// How long `close` at shutdown may spend replaying the spool to a reachable broker before it
/// leaves the rest on disk for the next start (`[sink] close_timeout`).
pub const DEFAULT_AMQP_CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest size of the spool on disk (`[sink] spool_max_bytes`); past it the oldest spooled
/// records are dropped (counted and logged). 1 GiB holds hours of a full three-exchange feed.
pub const DEFAULT_AMQP_SPOOL_MAX_BYTES: u64 = 1024 * 1024 * 1024;
/// Smallest accepted `spool_max_bytes`.
pub const MIN_AMQP_SPOOL_MAX_BYTES: u64 = 64 * 1024;
/// Binding key of a declared queue whose `bindings` are not set: every record.
pub const DEFAULT_AMQP_QUEUE_BINDING: &str = "#";

/// RabbitMQ (AMQP 0-9-1) sink settings. See docs/amqp.md for the wire format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmqpSinkConfig {
    /// Broker URL, `amqp://host[:port][/vhost][?heartbeat=N]` or `amqps://…`. Must not contain
    /// credentials: they come from the environment (`username_env`, `password_env`).
    pub url: String,
    /// Batches waiting between the workers and the sink; when full, workers wait.
    #[serde(default = "default_sink_queue")]
    pub queue_batches: usize,
    /// Records held in memory while the sink cannot take them (the spool cannot be written:
    /// a full disk); past it the oldest waiting batch is dropped and counted. 0: no memory
    /// buffer, workers wait instead.
    #[serde(default = "default_sink_buffer_max_records")]
    pub buffer_max_records: usize,
    /// Environment variable holding the user name (unset: the URL's default, `guest`).
    #[serde(default = "default_amqp_username_env")]
    pub username_env: String,
    /// Environment variable holding the password (unset: the URL's default, `guest`).
    #[serde(default = "default_amqp_password_env")]
    pub password_env: String,
    /// Durable topic exchange the records are published to.
    #[serde(default = "default_amqp_exchange")]
    pub exchange: String,
    /// Declare the exchange at every (re)connection; `false` only checks that it exists
    /// (for users without the `configure` permission).
    #[serde(default = "default_true")]
    pub declare_exchange: bool,
    /// `app_id` property of every message.
    #[serde(default = "default_amqp_app_id")]
    pub app_id: String,
    /// Records per message: 1 = one JSON record per message; more = a JSON array of up to this
    /// many records of one exchange and kind (schemas/batch.schema.json).
    #[serde(default = "default_amqp_batch_max")]
    pub batch_max: usize,
    /// How long the first record of a batch message may wait for more records (from later
    /// cycles and other exchanges) before it is published anyway; `"0s"` (the default)
    /// publishes what each cycle produced at once.
    #[serde(default = "default_amqp_linger")]
    pub linger: ConfigDuration,
    /// Messages awaiting a broker confirm at once (the in-memory bound of the sink).
    #[serde(default = "default_amqp_max_unconfirmed")]
    pub max_unconfirmed: usize,
    /// Longest wait without confirm progress before the connection is replaced and its
    /// unconfirmed messages go to the spool.
    #[serde(default = "default_amqp_confirm_timeout")]
    pub confirm_timeout: ConfigDuration,
    /// Longest wait for one connection attempt.
    #[serde(default = "default_amqp_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    /// First delay between reconnection attempts (doubles per failure, full jitter).
    #[serde(default = "default_amqp_reconnect_backoff_base")]
    pub reconnect_backoff_base: ConfigDuration,
    /// Largest delay between reconnection attempts; reconnection never gives up.
    #[serde(default = "default_amqp_reconnect_backoff_cap")]
    pub reconnect_backoff_cap: ConfigDuration,
    /// At shutdown, how long to keep replaying the spool to a reachable broker; what is left
    /// stays on disk and is replayed at the next start.
    #[serde(default = "default_amqp_close_timeout")]
    pub close_timeout: ConfigDuration,
    /// Folder of the on-disk spool (records kept while the broker is unreachable); required,
    /// relative to the config file's folder. One sink per folder.
    pub spool_dir: PathBuf,
    /// Largest spool size on disk; past it the oldest spooled records are dropped and counted.
    #[serde(default = "default_amqp_spool_max_bytes")]
    pub spool_max_bytes: u64,
    /// Queues to declare and bind at every (re)connection, so consumers need no setup tool.
    #[serde(default)]
    pub queues: Vec<AmqpQueueConfig>,
    /// PEM file of CA certificates trusted for `amqps://` in addition to the system's roots
    /// (a private CA, a self-signed broker); relative to the config file's folder.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
}

/// A queue the AMQP sink declares and binds to its exchange (`[[sink.queues]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmqpQueueConfig {
    /// Queue name (durable).
    pub name: String,
    /// Binding keys (topic patterns): `funding.#`, `*.binance.*`, `*.*.BTC-USDT-USDT`.
    #[serde(default = "default_amqp_bindings")]
    pub bindings: Vec<String>,
    /// Queue type: `classic`, `quorum` or `stream`.
    #[serde(rename = "type", default)]
    pub queue_type: AmqpQueueType,
    /// Most messages kept (`x-max-length`); none = unbounded.
    #[serde(default)]
    pub max_length: Option<u64>,
    /// Most message bytes kept (`x-max-length-bytes`); none = unbounded.
    #[serde(default)]
    pub max_length_bytes: Option<u64>,
    /// How long a message may wait in the queue (`x-message-ttl`; `x-max-age` for streams).
    #[serde(default)]
    pub message_ttl: Option<ConfigDuration>,
    /// What a full queue does (`x-overflow`): `drop-head` (default of the broker),
    /// `reject-publish` or `reject-publish-dlx`. Not for streams.
    #[serde(default)]
    pub overflow: Option<AmqpOverflow>,
}

/// RabbitMQ queue types.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AmqpQueueType {
    /// A classic durable queue.
    #[default]
    Classic,
    /// A replicated quorum queue.
    Quorum,
    /// An append-only stream (consumers read with offsets; needs RabbitMQ 3.9+).
    Stream,
}

/// Overflow behaviour of a queue with a length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AmqpOverflow {
    /// Drop the oldest messages.
    DropHead,
    /// Refuse new messages (the publisher gets a nack and retries).
    RejectPublish,
    /// Refuse new messages and dead-letter them.
    RejectPublishDlx,
}

impl AmqpOverflow {
    /// The `x-overflow` argument value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DropHead => "drop-head",
            Self::RejectPublish => "reject-publish",
            Self::RejectPublishDlx => "reject-publish-dlx",
        }
    }
}

impl AmqpSinkConfig {
    /// Settings with every default, the given broker URL and spool folder.
    pub fn new(url: &str, spool_dir: &Path) -> Self {
        Self {
            url: url.to_owned(),
            queue_batches: DEFAULT_SINK_QUEUE_BATCHES,
            buffer_max_records: DEFAULT_SINK_BUFFER_MAX_RECORDS,
            username_env: default_amqp_username_env(),
            password_env: default_amqp_password_env(),
            exchange: default_amqp_exchange(),
            declare_exchange: true,
            app_id: default_amqp_app_id(),
            batch_max: DEFAULT_AMQP_BATCH_MAX,
            linger: default_amqp_linger(),
            max_unconfirmed: DEFAULT_AMQP_MAX_UNCONFIRMED,
            confirm_timeout: default_amqp_confirm_timeout(),
            connect_timeout: default_amqp_connect_timeout(),
            reconnect_backoff_base: default_amqp_reconnect_backoff_base(),
            reconnect_backoff_cap: default_amqp_reconnect_backoff_cap(),
            close_timeout: default_amqp_close_timeout(),
            spool_dir: spool_dir.to_owned(),
            spool_max_bytes: DEFAULT_AMQP_SPOOL_MAX_BYTES,
            queues: Vec::new(),
            tls_ca_file: None,
        }
    }

    /// Semantic checks serde cannot express, each naming its key (`sink.…`).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let url = self.url.trim();
        let rest = url
            .strip_prefix("amqp://")
            .or_else(|| url.strip_prefix("amqps://"));
        match rest {
            None => problems.push("sink.url: must start with amqp:// or amqps://".to_owned()),
            Some(rest) => {
                let authority = rest.split(['/', '?']).next().unwrap_or_default();
                if authority.contains('@') {
                    problems.push(format!(
                        "sink.url: must not contain credentials; set the environment variables {} and {}",
                        self.username_env, self.password_env
                    ));
                } else if let Err(e) = url.parse::<lapin::uri::AMQPUri>() {
                    problems.push(format!("sink.url: {}", shorten_value_in(&e, url)));
                }
            }
        }
        for (key, name) in [
            ("username_env", &self.username_env),
            ("password_env", &self.password_env),
        ] {
            if name.is_empty() || name.contains('=') {
                problems.push(format!(
                    "sink.{key}: {} is not an environment variable name",
                    quote(name)
                ));
            }
        }
        check_amqp_name("sink.exchange", &self.exchange, &mut problems);
        if self.app_id.len() > AMQP_SHORT_STRING_MAX {
            problems.push("sink.app_id: longer than 255 bytes".to_owned());
        }
        if self.tls_ca_file.is_some() && !self.url.trim_start().starts_with("amqps://") {
            problems.push("sink.tls_ca_file: only used with an amqps:// URL".to_owned());
        }
        if self.linger.0 > MAX_AMQP_LINGER {
            problems.push(format!(
                "sink.linger: {} is above {}s",
                self.linger,
                MAX_AMQP_LINGER.as_secs()
            ));
        }
        if !(1..=MAX_AMQP_BATCH_MAX).contains(&self.batch_max) {
            problems.push(format!(
                "sink.batch_max: {} is not in 1..={MAX_AMQP_BATCH_MAX}",
                self.batch_max
            ));
        }
        if self.max_unconfirmed == 0 {
            problems.push("sink.max_unconfirmed: must be at least 1".to_owned());
        }
        for (key, d) in [
            ("confirm_timeout", self.confirm_timeout),
            ("connect_timeout", self.connect_timeout),
            ("reconnect_backoff_base", self.reconnect_backoff_base),
        ] {
            if d.0.is_zero() {
                problems.push(format!("sink.{key}: must be greater than zero"));
            }
        }
        if self.reconnect_backoff_base.0 > self.reconnect_backoff_cap.0 {
            problems.push(format!(
                "sink.reconnect_backoff_base: {} is above sink.reconnect_backoff_cap {}",
                self.reconnect_backoff_base, self.reconnect_backoff_cap
            ));
        }
        if self.spool_max_bytes < MIN_AMQP_SPOOL_MAX_BYTES {
            problems.push(format!(
                "sink.spool_max_bytes: {} is below {MIN_AMQP_SPOOL_MAX_BYTES}",
                self.spool_max_bytes
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, q) in self.queues.iter().enumerate() {
            let key = format!("sink.queues[{i}]");
            check_amqp_name(&format!("{key}.name"), &q.name, &mut problems);
            if !names.insert(q.name.as_str()) {
                problems.push(format!("{key}.name: {} is declared twice", quote(&q.name)));
            }
            if q.bindings.is_empty() {
                problems.push(format!("{key}.bindings: needs at least one binding key"));
            }
            for b in &q.bindings {
                if b.is_empty() || b.len() > AMQP_SHORT_STRING_MAX {
                    problems.push(format!("{key}.bindings: {} is not a binding key", quote(b)));
                }
            }
            if q.queue_type == AmqpQueueType::Stream && q.overflow.is_some() {
                problems.push(format!("{key}.overflow: streams have no overflow setting"));
            }
            // RabbitMQ refuses x-max-length on a stream, which would fail every connection.
            if q.queue_type == AmqpQueueType::Stream && q.max_length.is_some() {
                problems.push(format!(
                    "{key}.max_length: streams are bounded by max_length_bytes, not a message count"
                ));
            }
            if q.queue_type == AmqpQueueType::Quorum
                && q.overflow == Some(AmqpOverflow::RejectPublishDlx)
            {
                problems.push(format!(
                    "{key}.overflow: quorum queues accept drop-head or reject-publish"
                ));
            }
            if q.message_ttl.is_some_and(|t| t.0.is_zero()) {
                problems.push(format!("{key}.message_ttl: must be greater than zero"));
            }
        }
        problems
    }

    /// Resolves a relative `spool_dir` against the config file's folder.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        if self.spool_dir.is_relative() {
            self.spool_dir = base_dir.join(&self.spool_dir);
        }
        if let Some(ca) = self.tls_ca_file.as_mut().filter(|p| p.is_relative()) {
            *ca = base_dir.join(&*ca);
        }
    }
}

/// Longest AMQP short string (exchange, queue and routing key names, most properties).
pub const AMQP_SHORT_STRING_MAX: usize = 255;

fn check_amqp_name(key: &str, name: &str, problems: &mut Vec<String>) {
    if name.is_empty() || name.len() > AMQP_SHORT_STRING_MAX {
        problems.push(format!("{key}: must be 1 to 255 bytes"));
    } else if name.starts_with("amq.") {
        problems.push(format!("{key}: names starting with \"amq.\" are reserved"));
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        problems.push(format!(
            "{key}: {} uses letters, digits, '-', '_', '.' and ':' only",
            quote(name)
        ));
    }
}

fn default_amqp_username_env() -> String {
    DEFAULT_AMQP_USERNAME_ENV.to_owned()
}
fn default_amqp_password_env() -> String {
    DEFAULT_AMQP_PASSWORD_ENV.to_owned()
}
fn default_amqp_exchange() -> String {
    DEFAULT_AMQP_EXCHANGE.to_owned()
}
fn default_amqp_app_id() -> String {
    DEFAULT_AMQP_APP_ID.to_owned()
}
fn default_amqp_linger() -> ConfigDuration {
    ConfigDuration(DEFAULT_AMQP_LINGER)
}
fn default_amqp_batch_max() -> usize {
    DEFAULT_AMQP_BATCH_MAX
}
fn default_amqp_max_unconfirmed() -> usize {
    DEFAULT_AMQP_MAX_UNCONFIRMED
}
fn default_amqp_confirm_timeout() -> ConfigDuration {
    ConfigDuration(DEFAULT_AMQP_CONFIRM_TIMEOUT)
}
fn default_amqp_connect_timeout() -> ConfigDuration {
    ConfigDuration(DEFAULT_AMQP_CONNECT_TIMEOUT)
}
fn default_amqp_reconnect_backoff_base() -> ConfigDuration {
    ConfigDuration(DEFAULT_AMQP_RECONNECT_BACKOFF_BASE)
}
fn default_amqp_reconnect_backoff_cap() -> ConfigDuration {
    ConfigDuration(DEFAULT_AMQP_RECONNECT_BACKOFF_CAP)
}
fn default_amqp_close_timeout() -> ConfigDuration {
    ConfigDuration(DEFAULT_AMQP_CLOSE_TIMEOUT)
}
fn default_amqp_spool_max_bytes() -> u64 {
    DEFAULT_AMQP_SPOOL_MAX_BYTES
}
fn default_amqp_bindings() -> Vec<String> {
    vec![DEFAULT_AMQP_QUEUE_BINDING.to_owned()]
}

#[cfg(test)]
mod amqp_config_tests {
    use super::*;

    fn parse(sink: &str) -> Result<Config, String> {
        let text = format!("[plugins]\ndir = \"p\"\n[sink]\n{sink}\n");
        Config::from_toml_str(&text, Path::new("/etc/fc"))
    }

    #[test]
    fn amqp_sink_defaults_and_queues() {
        let c = parse(
            "type = \"amqp\"\nurl = \"amqp://127.0.0.1:5672/%2f\"\nspool_dir = \"spool\"\nbatch_max = 100\n[[sink.queues]]\nname = \"funding\"\nbindings = [\"funding.#\"]\ntype = \"quorum\"\nmax_length = 1000\nmessage_ttl = \"1h\"\noverflow = \"reject-publish\"\n",
        )
        .unwrap();
        let SinkConfig::Amqp(a) = c.sink else {
            panic!("amqp sink expected")
        };
        assert_eq!(a.exchange, DEFAULT_AMQP_EXCHANGE);
        assert_eq!(a.batch_max, 100);
        assert_eq!(a.max_unconfirmed, DEFAULT_AMQP_MAX_UNCONFIRMED);
        assert_eq!(a.spool_max_bytes, DEFAULT_AMQP_SPOOL_MAX_BYTES);
        assert_eq!(a.queues.len(), 1);
        let q = &a.queues[0];
        assert_eq!(q.queue_type, AmqpQueueType::Quorum);
        assert_eq!(q.overflow, Some(AmqpOverflow::RejectPublish));
        assert_eq!(
            q.message_ttl,
            Some(ConfigDuration(Duration::from_secs(3600)))
        );
        assert!(a.problems().is_empty(), "{:?}", a.problems());
        let d = parse("type = \"amqp\"\nurl = \"amqp://h\"\nspool_dir = \"/var/spool/fc\"\n[[sink.queues]]\nname = \"all\"\n")
            .unwrap();
        let SinkConfig::Amqp(d) = d.sink else {
            panic!("amqp sink expected")
        };
        assert_eq!(d.queues[0].bindings, ["#"]);
        assert_eq!(d.queues[0].queue_type, AmqpQueueType::Classic);
        assert_eq!(d.spool_dir, Path::new("/var/spool/fc"));
        let mut r = a.clone();
        r.resolve_paths(Path::new("/etc/fc"));
        assert_eq!(r.spool_dir, Path::new("/etc/fc/spool"));
    }

    #[test]
    fn amqp_problems_name_the_key() {
        let base = AmqpSinkConfig::new("amqp://127.0.0.1", Path::new("/tmp/spool"));
        type Mutation = Box<dyn Fn(&mut AmqpSinkConfig)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|c| c.url = "http://x".into()), "sink.url"),
            (
                Box::new(|c| c.url = "amqp://user:secret@host/%2f".into()),
                "must not contain credentials",
            ),
            (
                Box::new(|c| c.exchange = "amq.topic".into()),
                "sink.exchange",
            ),
            (Box::new(|c| c.exchange = String::new()), "sink.exchange"),
            (Box::new(|c| c.batch_max = 0), "sink.batch_max"),
            (Box::new(|c| c.max_unconfirmed = 0), "sink.max_unconfirmed"),
            (Box::new(|c| c.spool_max_bytes = 10), "sink.spool_max_bytes"),
            (
                Box::new(|c| c.reconnect_backoff_base = ConfigDuration(Duration::from_secs(60))),
                "sink.reconnect_backoff_base",
            ),
            (
                Box::new(|c| {
                    let mut q = AmqpQueueConfig {
                        name: "s".into(),
                        bindings: default_amqp_bindings(),
                        queue_type: AmqpQueueType::Stream,
                        max_length: None,
                        max_length_bytes: None,
                        message_ttl: None,
                        overflow: Some(AmqpOverflow::DropHead),
                    };
                    c.queues.push(q.clone());
                    q.overflow = None;
                    c.queues.push(q);
                }),
                "sink.queues[0].overflow",
            ),
            (
                Box::new(|c| {
                    c.queues.push(AmqpQueueConfig {
                        name: "s".into(),
                        bindings: default_amqp_bindings(),
                        queue_type: AmqpQueueType::Stream,
                        max_length: Some(10),
                        max_length_bytes: None,
                        // Allowed: a stream's age limit (x-max-age).
                        message_ttl: Some(ConfigDuration(Duration::from_secs(60))),
                        overflow: None,
                    })
                }),
                "sink.queues[0].max_length",
            ),
            (
                Box::new(|c| c.linger = ConfigDuration(Duration::from_secs(10))),
                "sink.linger",
            ),
        ];
        for (change, needle) in cases {
            let mut c = base.clone();
            change(&mut c);
            let problems = c.problems().join("; ");
            assert!(
                problems.contains(needle),
                "expected {needle:?} in {problems:?}"
            );
            assert!(
                !problems.contains("secret"),
                "credentials leaked: {problems}"
            );
        }
        let mut twice = base.clone();
        twice.url = "amqp://u:secret@h".into();
        assert!(!format!("{:?}", twice.problems()).contains("secret"));
    }
}

// ---- end of AMQP sink settings ----

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
}

fn default_true() -> bool {
    true
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
fn default_sink_queue() -> usize {
    DEFAULT_SINK_QUEUE_BATCHES
}
fn default_sink_buffer_max_records() -> usize {
    DEFAULT_SINK_BUFFER_MAX_RECORDS
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
        let mut problems = Vec::new();
        let h = &self.http;
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
            if !is_identifier(id) {
                problems.push(format!(
                    "exchanges.{id}: ids use letters, digits, '-' and '_' only"
                ));
            }
            if let Some(b) = &ex.breaker {
                problems.extend(b.problems(&format!("exchanges.{id}.breaker")));
            }
            if let Some(url) = &ex.base_url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    problems.push(format!(
                        "exchanges.{id}.base_url: {} is not an http(s) URL",
                        quote(url)
                    ));
                }
            }
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

// ---- observability settings (owned by the observability work: telemetry/, web/, alerts/) ----

/// Where the web server (metrics, health, status API, dashboard) listens by default: loopback
/// only. Expose it through a reverse proxy or set `[web] listen` explicitly.
pub const DEFAULT_WEB_LISTEN: std::net::SocketAddr = std::net::SocketAddr::V4(
    std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 9480),
);
/// How often the live feed (`/api/events`, server-sent events) sends a sample of every
/// exchange to the dashboard (`[web] live_interval`).
pub const DEFAULT_WEB_LIVE_INTERVAL: Duration = Duration::from_secs(2);
/// A client must send a complete request head within this (`[web] header_read_timeout`):
/// counted from the connection's accept for its first request, from the first byte of any
/// later one. Ten seconds is ample for a scraper or a browser on any network.
pub const DEFAULT_WEB_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A keep-alive connection with no request in flight is closed after this
/// (`[web] idle_timeout`). Longer than a 15 s or 30 s scrape interval, so a Prometheus scraper
/// keeps reusing its connection.
pub const DEFAULT_WEB_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections served at once (`[web] max_connections`); one more gets a minimal 503 and is
/// closed. Far above what a scraper, a few dashboards and health probes need, far below the
/// process's file descriptors, which collection needs too.
pub const DEFAULT_WEB_MAX_CONNECTIONS: usize = 256;
/// Concurrent `/api/events` streams (`[web] max_sse_clients`): one per open dashboard tab.
pub const DEFAULT_WEB_MAX_SSE_CLIENTS: usize = 32;
/// Shortest `header_read_timeout` and `idle_timeout` accepted: a shorter one would close
/// connections of ordinary clients on a loaded machine.
pub const MIN_WEB_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest `header_read_timeout` accepted: beyond it a slow client holds a connection for
/// long enough to make the limit useless.
pub const MAX_WEB_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Longest `idle_timeout` accepted.
pub const MAX_WEB_IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Largest `max_connections` accepted: every connection is a file descriptor, and more than
/// this is more than a process is usually allowed to open.
pub const MAX_WEB_MAX_CONNECTIONS: usize = 65_536;
/// The environment variable holding the web server's bearer token (`[web] token_env`). The
/// config names the variable, never the token; it is read when the web server starts.
pub const DEFAULT_WEB_TOKEN_ENV: &str = "FUTURES_COLLECTOR_WEB_TOKEN";
/// How often alert rules are evaluated (`[alerts] evaluate_every`).
pub const DEFAULT_ALERT_EVALUATE_EVERY: Duration = Duration::from_secs(5);
/// A firing alert is re-sent this often while it stays active (`[alerts] repeat_every`).
pub const DEFAULT_ALERT_REPEAT_EVERY: Duration = Duration::from_secs(60 * 60);
/// Window of the error-rate and latency rules (`[alerts] window`).
pub const DEFAULT_ALERT_WINDOW: Duration = Duration::from_secs(5 * 60);
/// No successful request for this long: `exchange_down` (`[alerts] exchange_down_after`).
pub const DEFAULT_ALERT_EXCHANGE_DOWN_AFTER: Duration = Duration::from_secs(60);
/// Breaker not closed for this long: `breaker_open` (`[alerts] breaker_open_after`).
pub const DEFAULT_ALERT_BREAKER_OPEN_AFTER: Duration = Duration::from_secs(30);
/// Share of failed requests over the window: `error_rate` (`[alerts] error_rate_above`).
pub const DEFAULT_ALERT_ERROR_RATE_ABOVE: f64 = 0.25;
/// Requests needed in the window before `error_rate` and `latency` judge (`[alerts] min_requests`).
pub const DEFAULT_ALERT_MIN_REQUESTS: u64 = 20;
/// 95th percentile request latency over the window: `latency` (`[alerts] latency_p95_above`).
pub const DEFAULT_ALERT_LATENCY_P95_ABOVE: Duration = Duration::from_secs(3);
/// Newest data of a watched kind older than this: `stale` (`[alerts] stale_after`).
pub const DEFAULT_ALERT_STALE_AFTER: Duration = Duration::from_secs(2 * 60);
/// Kinds the `stale` rule watches (`[alerts] stale_kinds`): the fast ones. Instruments refresh
/// hourly and would always look stale.
pub const DEFAULT_ALERT_STALE_KINDS: [&str; 2] = ["tickers", "funding"];
/// Sink failing this long: `sink_failing` (`[alerts] sink_failing_after`).
pub const DEFAULT_ALERT_SINK_FAILING_AFTER: Duration = Duration::from_secs(30);
/// Sink spooling to disk this long: `sink_spooling` (`[alerts] sink_spooling_after`).
pub const DEFAULT_ALERT_SINK_SPOOLING_AFTER: Duration = Duration::from_secs(60);
/// Resident memory above this: `memory` (`[alerts] memory_above_bytes`; 0 turns it off).
/// 256 MiB is the owner's target for the whole process.
pub const DEFAULT_ALERT_MEMORY_ABOVE_BYTES: u64 = 256 * 1024 * 1024;
/// Most notifications one notifier sends per minute; the rest are dropped and counted
/// (`[alerts] notify_max_per_minute`).
pub const DEFAULT_ALERT_NOTIFY_MAX_PER_MINUTE: u32 = 20;
/// Longest one notification request may take (`[alerts] notify_timeout`).
pub const DEFAULT_ALERT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// Environment variable read for a Slack webhook URL when `webhook_url` is not set.
pub const DEFAULT_SLACK_WEBHOOK_URL_ENV: &str = "FUTURES_COLLECTOR_SLACK_WEBHOOK_URL";
/// Environment variable read for a Telegram bot token when `bot_token` is not set.
pub const DEFAULT_TELEGRAM_BOT_TOKEN_ENV: &str = "FUTURES_COLLECTOR_TELEGRAM_BOT_TOKEN";
/// Telegram Bot API base URL (`api_base`; tests point it at a local receiver).
pub const DEFAULT_TELEGRAM_API_BASE: &str = "https://api.telegram.org";
/// Environment variable read for a generic webhook URL when `url` is not set.
pub const DEFAULT_WEBHOOK_URL_ENV: &str = "FUTURES_COLLECTOR_ALERT_WEBHOOK_URL";

/// The HTTP server: `/metrics`, `/healthz`, `/readyz`, `/api/*` and the dashboard (`[web]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Serve metrics, health, the status API and the dashboard.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address and port (`127.0.0.1:0` picks a free port). Loopback by default.
    #[serde(default = "default_web_listen")]
    pub listen: std::net::SocketAddr,
    /// How often the live feed sends a sample of every exchange.
    #[serde(default = "default_web_live_interval")]
    pub live_interval: ConfigDuration,
    /// A connection that has not sent a complete request head this long after it was opened
    /// (or after the first byte of a later request) is closed.
    #[serde(default = "default_web_header_read_timeout")]
    pub header_read_timeout: ConfigDuration,
    /// A keep-alive connection with no request in flight is closed after this. Requests in
    /// progress, event streams included, are never cut by it.
    #[serde(default = "default_web_idle_timeout")]
    pub idle_timeout: ConfigDuration,
    /// Connections served at once; one more gets `503 Service Unavailable` and is closed.
    #[serde(default = "default_web_max_connections")]
    #[schemars(range(min = 2, max = MAX_WEB_MAX_CONNECTIONS))]
    pub max_connections: usize,
    /// Concurrent `/api/events` streams; one more gets `503` with a JSON error. Below
    /// `max_connections`, so streams cannot take every connection from scrapers and probes.
    #[serde(default = "default_web_max_sse_clients")]
    #[schemars(range(min = 1))]
    pub max_sse_clients: usize,
    /// Name of the environment variable holding the bearer token (never the token itself).
    /// When it is set, every route but `/healthz` and `/readyz` requires
    /// `Authorization: Bearer <token>` (or the dashboard's login cookie); it must be set when
    /// `listen` is not a loopback address, unless `allow_unauthenticated` is true.
    #[serde(default = "default_web_token_env")]
    pub token_env: String,
    /// Serve without a token on an address beyond loopback (a warning is logged at every
    /// start). Requests that are not GET or HEAD still need the token.
    #[serde(default)]
    pub allow_unauthenticated: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: DEFAULT_WEB_LISTEN,
            live_interval: default_web_live_interval(),
            header_read_timeout: default_web_header_read_timeout(),
            idle_timeout: default_web_idle_timeout(),
            max_connections: DEFAULT_WEB_MAX_CONNECTIONS,
            max_sse_clients: DEFAULT_WEB_MAX_SSE_CLIENTS,
            token_env: default_web_token_env(),
            allow_unauthenticated: false,
        }
    }
}

impl WebConfig {
    /// Semantic checks, each naming its key (`web.…`).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.live_interval.0 < Duration::from_millis(100) {
            p.push(format!(
                "web.live_interval: {} is below 100ms",
                self.live_interval
            ));
        }
        for (key, value, max) in [
            (
                "header_read_timeout",
                self.header_read_timeout,
                MAX_WEB_HEADER_READ_TIMEOUT,
            ),
            ("idle_timeout", self.idle_timeout, MAX_WEB_IDLE_TIMEOUT),
        ] {
            if !(MIN_WEB_TIMEOUT..=max).contains(&value.0) {
                p.push(format!(
                    "web.{key}: {value} is not between {} and {}",
                    ConfigDuration(MIN_WEB_TIMEOUT),
                    ConfigDuration(max)
                ));
            }
        }
        if !(2..=MAX_WEB_MAX_CONNECTIONS).contains(&self.max_connections) {
            p.push(format!(
                "web.max_connections: {} is not in 2..={MAX_WEB_MAX_CONNECTIONS}",
                self.max_connections
            ));
        }
        if self.max_sse_clients == 0 {
            p.push("web.max_sse_clients: must be at least 1".to_owned());
        } else if self.max_sse_clients >= self.max_connections {
            p.push(format!(
                "web.max_sse_clients: {} must be below web.max_connections ({}), so event streams leave connections for scrapes and health checks",
                self.max_sse_clients, self.max_connections
            ));
        }
        if !is_env_var_name(&self.token_env) {
            p.push(format!(
                "web.token_env: {} is not an environment variable name (letters, digits and '_', not starting with a digit)",
                quote(&self.token_env)
            ));
        }
        p
    }
}

/// A portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn default_web_listen() -> std::net::SocketAddr {
    DEFAULT_WEB_LISTEN
}
fn default_web_live_interval() -> ConfigDuration {
    ConfigDuration(DEFAULT_WEB_LIVE_INTERVAL)
}
fn default_web_header_read_timeout() -> ConfigDuration {
    ConfigDuration(DEFAULT_WEB_HEADER_READ_TIMEOUT)
}
fn default_web_idle_timeout() -> ConfigDuration {
    ConfigDuration(DEFAULT_WEB_IDLE_TIMEOUT)
}
fn default_web_max_connections() -> usize {
    DEFAULT_WEB_MAX_CONNECTIONS
}
fn default_web_max_sse_clients() -> usize {
    DEFAULT_WEB_MAX_SSE_CLIENTS
}
fn default_web_token_env() -> String {
    DEFAULT_WEB_TOKEN_ENV.to_owned()
}

/// Alert rules and where notifications go (`[alerts]`). Rule ids: `exchange_down`,
/// `breaker_open`, `error_rate`, `latency`, `stale`, `sink_failing`, `sink_spooling`, `memory`,
/// `config_reload_failed`, `plugin_refused`, `plugins_retired`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Evaluate the rules at all (the dashboard and metrics work either way).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Rule ids that are off.
    #[serde(default)]
    pub disabled: Vec<String>,
    /// How often the rules are evaluated.
    #[serde(default = "default_alert_evaluate_every")]
    pub evaluate_every: ConfigDuration,
    /// A firing alert is re-sent this often while it stays active.
    #[serde(default = "default_alert_repeat_every")]
    pub repeat_every: ConfigDuration,
    /// Window of the `error_rate` and `latency` rules.
    #[serde(default = "default_alert_window")]
    pub window: ConfigDuration,
    /// `exchange_down`: no successful request for this long.
    #[serde(default = "default_alert_exchange_down_after")]
    pub exchange_down_after: ConfigDuration,
    /// `breaker_open`: the breaker has not been closed for this long.
    #[serde(default = "default_alert_breaker_open_after")]
    pub breaker_open_after: ConfigDuration,
    /// `error_rate`: share of failed requests over the window, in (0, 1].
    #[serde(default = "default_alert_error_rate_above")]
    pub error_rate_above: f64,
    /// Requests needed in the window before `error_rate` and `latency` judge.
    #[serde(default = "default_alert_min_requests")]
    pub min_requests: u64,
    /// `latency`: 95th percentile request latency over the window above this (degradation).
    #[serde(default = "default_alert_latency_p95_above")]
    pub latency_p95_above: ConfigDuration,
    /// `stale`: the newest data of a watched kind is older than this.
    #[serde(default = "default_alert_stale_after")]
    pub stale_after: ConfigDuration,
    /// Kinds the `stale` rule watches.
    #[serde(default = "default_alert_stale_kinds")]
    pub stale_kinds: Vec<String>,
    /// `sink_failing`: the sink has failed to deliver for this long.
    #[serde(default = "default_alert_sink_failing_after")]
    pub sink_failing_after: ConfigDuration,
    /// `sink_spooling`: the sink has been spooling to disk for this long.
    #[serde(default = "default_alert_sink_spooling_after")]
    pub sink_spooling_after: ConfigDuration,
    /// `memory`: resident memory above this many bytes (0 = off).
    #[serde(default = "default_alert_memory_above_bytes")]
    pub memory_above_bytes: u64,
    /// Most notifications each notifier sends per minute (the rest are dropped and counted).
    #[serde(default = "default_alert_notify_max_per_minute")]
    pub notify_max_per_minute: u32,
    /// Longest one notification request may take.
    #[serde(default = "default_alert_notify_timeout")]
    pub notify_timeout: ConfigDuration,
    /// Where notifications go (`[[alerts.notifiers]]`).
    #[serde(default)]
    pub notifiers: Vec<NotifierConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            disabled: Vec::new(),
            evaluate_every: default_alert_evaluate_every(),
            repeat_every: default_alert_repeat_every(),
            window: default_alert_window(),
            exchange_down_after: default_alert_exchange_down_after(),
            breaker_open_after: default_alert_breaker_open_after(),
            error_rate_above: DEFAULT_ALERT_ERROR_RATE_ABOVE,
            min_requests: DEFAULT_ALERT_MIN_REQUESTS,
            latency_p95_above: default_alert_latency_p95_above(),
            stale_after: default_alert_stale_after(),
            stale_kinds: default_alert_stale_kinds(),
            sink_failing_after: default_alert_sink_failing_after(),
            sink_spooling_after: default_alert_sink_spooling_after(),
            memory_above_bytes: DEFAULT_ALERT_MEMORY_ABOVE_BYTES,
            notify_max_per_minute: DEFAULT_ALERT_NOTIFY_MAX_PER_MINUTE,
            notify_timeout: default_alert_notify_timeout(),
            notifiers: Vec::new(),
        }
    }
}

/// One notification destination. Secrets (webhook URLs, bot tokens) should come from the
/// environment: `*_env` names the variable; a value written in the file wins over it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum NotifierConfig {
    /// Slack incoming webhook: `POST <webhook_url>` with `{"text": …}`.
    Slack {
        /// The webhook URL (a secret: prefer `webhook_url_env`).
        #[serde(default)]
        webhook_url: Option<String>,
        /// Environment variable holding the webhook URL.
        #[serde(default = "default_slack_webhook_url_env")]
        webhook_url_env: String,
    },
    /// Telegram bot: `POST <api_base>/bot<token>/sendMessage` with `chat_id` and `text`.
    Telegram {
        /// The bot token (a secret: prefer `bot_token_env`).
        #[serde(default)]
        bot_token: Option<String>,
        /// Environment variable holding the bot token.
        #[serde(default = "default_telegram_bot_token_env")]
        bot_token_env: String,
        /// Chat, group or channel id (`-100…`) or `@channelname`.
        chat_id: String,
        /// Bot API base URL.
        #[serde(default = "default_telegram_api_base")]
        api_base: String,
    },
    /// Generic JSON webhook: `POST <url>` with the alert as a JSON object.
    Webhook {
        /// The URL (may carry a secret: prefer `url_env`).
        #[serde(default)]
        url: Option<String>,
        /// Environment variable holding the URL.
        #[serde(default = "default_webhook_url_env")]
        url_env: String,
    },
}

impl AlertsConfig {
    /// Semantic checks, each naming its key (`alerts.…`). Never prints a secret.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        for id in &self.disabled {
            if !ALERT_RULE_IDS.contains(&id.as_str()) {
                p.push(format!(
                    "alerts.disabled: unknown rule {} (rules: {})",
                    quote(id),
                    ALERT_RULE_IDS.join(", ")
                ));
            }
        }
        if self.evaluate_every.0 < Duration::from_millis(10) {
            p.push(format!(
                "alerts.evaluate_every: {} is below 10ms",
                self.evaluate_every
            ));
        }
        if self.repeat_every.0.is_zero() {
            p.push("alerts.repeat_every: must be greater than zero".to_owned());
        }
        if self.window.0 < Duration::from_secs(1) {
            p.push(format!("alerts.window: {} is below 1s", self.window));
        }
        if !(self.error_rate_above > 0.0 && self.error_rate_above <= 1.0) {
            p.push(format!(
                "alerts.error_rate_above: {} is not in (0, 1]",
                self.error_rate_above
            ));
        }
        if self.notify_max_per_minute == 0 {
            p.push("alerts.notify_max_per_minute: must be at least 1".to_owned());
        }
        if self.notify_timeout.0.is_zero() {
            p.push("alerts.notify_timeout: must be greater than zero".to_owned());
        }
        for (i, n) in self.notifiers.iter().enumerate() {
            let key = format!("alerts.notifiers[{i}]");
            let is_http = |u: &str| u.starts_with("http://") || u.starts_with("https://");
            match n {
                NotifierConfig::Slack {
                    webhook_url,
                    webhook_url_env,
                } => {
                    if webhook_url.as_deref().is_some_and(|u| !is_http(u)) {
                        p.push(format!("{key}.webhook_url: not an http(s) URL"));
                    }
                    if webhook_url.is_none() && webhook_url_env.trim().is_empty() {
                        p.push(format!("{key}: set webhook_url or webhook_url_env"));
                    }
                }
                NotifierConfig::Telegram {
                    bot_token,
                    bot_token_env,
                    chat_id,
                    api_base,
                } => {
                    if chat_id.trim().is_empty() {
                        p.push(format!("{key}.chat_id: must not be empty"));
                    }
                    if !is_http(api_base) {
                        p.push(format!(
                            "{key}.api_base: {} is not an http(s) URL",
                            quote(api_base)
                        ));
                    }
                    if bot_token.is_none() && bot_token_env.trim().is_empty() {
                        p.push(format!("{key}: set bot_token or bot_token_env"));
                    }
                }
                NotifierConfig::Webhook { url, url_env } => {
                    if url.as_deref().is_some_and(|u| !is_http(u)) {
                        p.push(format!("{key}.url: not an http(s) URL"));
                    }
                    if url.is_none() && url_env.trim().is_empty() {
                        p.push(format!("{key}: set url or url_env"));
                    }
                }
            }
        }
        p
    }
}

fn default_alert_evaluate_every() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_EVALUATE_EVERY)
}
fn default_alert_repeat_every() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_REPEAT_EVERY)
}
fn default_alert_window() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_WINDOW)
}
fn default_alert_exchange_down_after() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_EXCHANGE_DOWN_AFTER)
}
fn default_alert_breaker_open_after() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_BREAKER_OPEN_AFTER)
}
fn default_alert_error_rate_above() -> f64 {
    DEFAULT_ALERT_ERROR_RATE_ABOVE
}
fn default_alert_min_requests() -> u64 {
    DEFAULT_ALERT_MIN_REQUESTS
}
fn default_alert_latency_p95_above() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_LATENCY_P95_ABOVE)
}
fn default_alert_stale_after() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_STALE_AFTER)
}
fn default_alert_stale_kinds() -> Vec<String> {
    DEFAULT_ALERT_STALE_KINDS
        .iter()
        .map(|k| (*k).to_owned())
        .collect()
}
fn default_alert_sink_failing_after() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_SINK_FAILING_AFTER)
}
fn default_alert_sink_spooling_after() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_SINK_SPOOLING_AFTER)
}
fn default_alert_memory_above_bytes() -> u64 {
    DEFAULT_ALERT_MEMORY_ABOVE_BYTES
}
fn default_alert_notify_max_per_minute() -> u32 {
    DEFAULT_ALERT_NOTIFY_MAX_PER_MINUTE
}
fn default_alert_notify_timeout() -> ConfigDuration {
    ConfigDuration(DEFAULT_ALERT_NOTIFY_TIMEOUT)
}
fn default_slack_webhook_url_env() -> String {
    DEFAULT_SLACK_WEBHOOK_URL_ENV.to_owned()
}
fn default_telegram_bot_token_env() -> String {
    DEFAULT_TELEGRAM_BOT_TOKEN_ENV.to_owned()
}
fn default_telegram_api_base() -> String {
    DEFAULT_TELEGRAM_API_BASE.to_owned()
}
fn default_webhook_url_env() -> String {
    DEFAULT_WEBHOOK_URL_ENV.to_owned()
}

#[cfg(test)]
mod observability_settings_tests {
    use super::*;

    const BASE: &str = "[plugins]\ndir = \"p\"\n[sink]\ntype = \"stdout\"\n";

    #[test]
    fn defaults_are_loopback_and_every_rule_on() {
        let c = Config::from_toml_str(BASE, Path::new(".")).unwrap();
        assert_eq!(c.web, WebConfig::default());
        assert!(c.web.listen.ip().is_loopback());
        assert_eq!(c.alerts, AlertsConfig::default());
        assert!(c.alerts.disabled.is_empty());
    }

    #[test]
    fn parses_notifiers_and_names_bad_keys() {
        let text = format!(
            "{BASE}[web]\nlisten = \"127.0.0.1:0\"\n[alerts]\nevaluate_every = \"1s\"\ndisabled = [\"memory\"]\n\
             [[alerts.notifiers]]\ntype = \"slack\"\n\
             [[alerts.notifiers]]\ntype = \"telegram\"\nchat_id = \"-100\"\nbot_token = \"1:secret\"\n\
             [[alerts.notifiers]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/hook\"\n"
        );
        let c = Config::from_toml_str(&text, Path::new(".")).unwrap();
        assert_eq!(c.web.listen.port(), 0);
        assert_eq!(c.alerts.notifiers.len(), 3);
        assert_eq!(c.alerts.disabled, ["memory"]);

        let cases = [
            ("[alerts]\ndisabled = [\"nope\"]\n", "alerts.disabled"),
            ("[alerts]\nerror_rate_above = 2.0\n", "alerts.error_rate_above"),
            ("[web]\nlive_interval = \"1ms\"\n", "web.live_interval"),
            (
                "[[alerts.notifiers]]\ntype = \"telegram\"\nchat_id = \"\"\nbot_token = \"1:secret\"\n",
                "alerts.notifiers[0].chat_id",
            ),
            (
                "[[alerts.notifiers]]\ntype = \"slack\"\nwebhook_url = \"ftp://secret\"\n",
                "alerts.notifiers[0].webhook_url",
            ),
            ("[web]\nlisten = \"nowhere\"\n", "listen"),
        ];
        for (extra, needle) in cases {
            let e = Config::from_toml_str(&format!("{BASE}{extra}"), Path::new(".")).unwrap_err();
            assert!(e.contains(needle), "expected {needle:?} in: {e}");
            assert!(!e.contains("secret"), "a secret leaked into: {e}");
        }
    }

    #[test]
    fn web_limits_have_safe_defaults_and_parse() {
        let c = Config::from_toml_str(BASE, Path::new(".")).unwrap();
        assert_eq!(c.web.header_read_timeout.0, Duration::from_secs(10));
        assert_eq!(c.web.idle_timeout.0, Duration::from_secs(60));
        assert_eq!(c.web.max_connections, 256);
        assert_eq!(c.web.max_sse_clients, 32);
        assert!(c.web.problems().is_empty());

        let text = format!(
            "{BASE}[web]\nheader_read_timeout = \"2s\"\nidle_timeout = \"500ms\"\nmax_connections = 2\nmax_sse_clients = 1\n"
        );
        let c = Config::from_toml_str(&text, Path::new(".")).unwrap();
        assert_eq!(c.web.header_read_timeout.0, Duration::from_secs(2));
        assert_eq!(c.web.idle_timeout.0, Duration::from_millis(500));
        assert_eq!((c.web.max_connections, c.web.max_sse_clients), (2, 1));
    }

    #[test]
    fn web_token_settings_name_a_variable_and_default_to_closed() {
        let c = Config::from_toml_str(BASE, Path::new(".")).unwrap();
        assert_eq!(c.web.token_env, DEFAULT_WEB_TOKEN_ENV);
        assert!(!c.web.allow_unauthenticated);

        let text = format!(
            "{BASE}[web]\nlisten = \"0.0.0.0:9480\"\ntoken_env = \"MY_WEB_TOKEN\"\nallow_unauthenticated = true\n"
        );
        let c = Config::from_toml_str(&text, Path::new(".")).unwrap();
        assert_eq!(c.web.token_env, "MY_WEB_TOKEN");
        assert!(c.web.allow_unauthenticated);

        for bad in ["", "1TOKEN", "MY-TOKEN", "A=B", "TOKEN VALUE", "ÄTOKEN"] {
            let text = format!("{BASE}[web]\ntoken_env = {bad:?}\n");
            let e = Config::from_toml_str(&text, Path::new(".")).unwrap_err();
            assert!(
                e.contains("web.token_env:") && e.contains("is not an environment variable name"),
                "{bad:?}: {e}"
            );
        }
        for good in ["_T", "t", "FC_WEB_TOKEN_2"] {
            let text = format!("{BASE}[web]\ntoken_env = {good:?}\n");
            assert!(
                Config::from_toml_str(&text, Path::new(".")).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn web_limits_out_of_range_name_their_key() {
        let cases = [
            (
                "header_read_timeout = \"0s\"",
                "web.header_read_timeout: 0ms is not between 100ms and 5m",
            ),
            (
                "header_read_timeout = \"99ms\"",
                "web.header_read_timeout: 99ms is not between",
            ),
            (
                "header_read_timeout = \"6m\"",
                "web.header_read_timeout: 6m is not between",
            ),
            ("header_read_timeout = \"soon\"", "header_read_timeout"),
            (
                "idle_timeout = \"0s\"",
                "web.idle_timeout: 0ms is not between 100ms and 1h",
            ),
            (
                "idle_timeout = \"2h\"",
                "web.idle_timeout: 2h is not between",
            ),
            (
                "max_connections = 0",
                "web.max_connections: 0 is not in 2..=65536",
            ),
            (
                "max_connections = 1",
                "web.max_connections: 1 is not in 2..=65536",
            ),
            (
                "max_connections = 65537",
                "web.max_connections: 65537 is not in",
            ),
            ("max_connections = -1", "max_connections = -1"),
            (
                "max_sse_clients = 0",
                "web.max_sse_clients: must be at least 1",
            ),
            (
                "max_connections = 8\nmax_sse_clients = 8",
                "web.max_sse_clients: 8 must be below web.max_connections (8)",
            ),
            (
                "max_sse_clients = 300",
                "web.max_sse_clients: 300 must be below web.max_connections (256)",
            ),
        ];
        for (extra, needle) in cases {
            let e = Config::from_toml_str(&format!("{BASE}[web]\n{extra}\n"), Path::new("."))
                .unwrap_err();
            assert!(e.contains(needle), "expected {needle:?} in: {e}");
        }
        // Through the loader (the JSON Schema first, then the semantic checks), as an operator
        // sees it: each problem names its file and key.
        let load = |web: &str| {
            let layer = format!("{BASE}[web]\n{web}\n");
            let dir = super::super::load::tests::dir_with(&[("collector.toml", layer.as_str())]);
            let req = super::super::LoadRequest {
                path: dir.path().join("collector.toml"),
                profile: None,
            };
            super::super::load(&req, &super::super::Environment::default())
                .unwrap_err()
                .to_string()
        };
        let e = load("max_connections = 0\nmax_sse_clients = 0");
        for needle in [
            "collector.toml: web.max_connections: 0 is less than the minimum of 2",
            "collector.toml: web.max_sse_clients: 0 is less than the minimum of 1",
        ] {
            assert!(e.contains(needle), "expected {needle:?} in: {e}");
        }
        let e = load("idle_timeout = \"0s\"\nheader_read_timeout = \"1h\"");
        for needle in [
            "collector.toml: web.idle_timeout: 0ms is not between 100ms and 1h",
            "collector.toml: web.header_read_timeout: 1h is not between 100ms and 5m",
        ] {
            assert!(e.contains(needle), "expected {needle:?} in: {e}");
        }
        // At the edges of the ranges, valid.
        for extra in [
            "header_read_timeout = \"100ms\"\nidle_timeout = \"1h\"",
            "header_read_timeout = \"5m\"\nidle_timeout = \"100ms\"",
            "max_connections = 65536\nmax_sse_clients = 65535",
        ] {
            let text = format!("{BASE}[web]\n{extra}\n");
            if let Err(e) = Config::from_toml_str(&text, Path::new(".")) {
                panic!("{extra}: {e}");
            }
        }
    }
}

// ---- end of observability settings ----

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
            assert_eq!(ids, ["binance", "bybit", "okx"], "{profile}");
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
