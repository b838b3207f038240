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

use crate::{
    breaker::BreakerConfig,
    duration::{ConfigDuration, PollInterval},
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
// Built once per (re)load; the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
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
            username_env: default_amqp_username_env(),
            password_env: default_amqp_password_env(),
            exchange: default_amqp_exchange(),
            declare_exchange: true,
            app_id: default_amqp_app_id(),
            batch_max: DEFAULT_AMQP_BATCH_MAX,
            max_unconfirmed: DEFAULT_AMQP_MAX_UNCONFIRMED,
            confirm_timeout: default_amqp_confirm_timeout(),
            connect_timeout: default_amqp_connect_timeout(),
            reconnect_backoff_base: default_amqp_reconnect_backoff_base(),
            reconnect_backoff_cap: default_amqp_reconnect_backoff_cap(),
            close_timeout: default_amqp_close_timeout(),
            spool_dir: spool_dir.to_owned(),
            spool_max_bytes: DEFAULT_AMQP_SPOOL_MAX_BYTES,
            queues: Vec::new(),
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
                    problems.push(format!("sink.url: {e}"));
                }
            }
        }
        for (key, name) in [
            ("username_env", &self.username_env),
            ("password_env", &self.password_env),
        ] {
            if name.is_empty() || name.contains('=') {
                problems.push(format!(
                    "sink.{key}: {name:?} is not an environment variable name"
                ));
            }
        }
        check_amqp_name("sink.exchange", &self.exchange, &mut problems);
        if self.app_id.len() > AMQP_SHORT_STRING_MAX {
            problems.push("sink.app_id: longer than 255 bytes".to_owned());
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
                problems.push(format!("{key}.name: {:?} is declared twice", q.name));
            }
            if q.bindings.is_empty() {
                problems.push(format!("{key}.bindings: needs at least one binding key"));
            }
            for b in &q.bindings {
                if b.is_empty() || b.len() > AMQP_SHORT_STRING_MAX {
                    problems.push(format!("{key}.bindings: {b:?} is not a binding key"));
                }
            }
            if q.queue_type == AmqpQueueType::Stream && q.overflow.is_some() {
                problems.push(format!("{key}.overflow: streams have no overflow setting"));
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
            "{key}: {name:?} uses letters, digits, '-', '_', '.' and ':' only"
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
            max_entries: crate::dedup::DEFAULT_MAX_ENTRIES,
        }
    }
}

fn default_heartbeat() -> ConfigDuration {
    ConfigDuration(crate::dedup::DEFAULT_HEARTBEAT)
}
fn default_dedup_entries() -> usize {
    crate::dedup::DEFAULT_MAX_ENTRIES
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
        problems.extend(self.breaker.problems("breaker"));
        if self.change_detection.heartbeat.0.is_zero() {
            problems.push("change_detection.heartbeat: must be greater than zero".to_owned());
        }
        if self.change_detection.max_entries == 0 {
            problems.push("change_detection.max_entries: must be at least 1".to_owned());
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
            if let Some(b) = &ex.breaker {
                problems.extend(b.problems(&format!("exchanges.{id}.breaker")));
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
