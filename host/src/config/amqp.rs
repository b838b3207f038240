//! `[sink] type = "amqp"`: the RabbitMQ sink's settings (broker, exchange, queues, batching,
//! confirms, reconnection, the spool), their defaults and checks. The sink itself is
//! `output::sink::amqp`.
//!
//! Owns those keys. Must not run anything.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    common::{
        default_sink_buffer_max_records, default_sink_queue, default_true,
        DEFAULT_SINK_BUFFER_MAX_RECORDS, DEFAULT_SINK_QUEUE_BATCHES,
    },
    duration::ConfigDuration,
    quote::{quote, shorten_value_in},
};

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
        self.broker_problems(&mut problems);
        self.publishing_problems(&mut problems);
        self.queue_problems(&mut problems);
        problems
    }

    /// Where and as whom the sink publishes: the URL, the credentials' variable names, the
    /// exchange, the app id and the TLS file.
    fn broker_problems(&self, problems: &mut Vec<String>) {
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
        check_amqp_name("sink.exchange", &self.exchange, problems);
        if self.app_id.len() > AMQP_SHORT_STRING_MAX {
            problems.push("sink.app_id: longer than 255 bytes".to_owned());
        }
        if self.tls_ca_file.is_some() && !self.url.trim_start().starts_with("amqps://") {
            problems.push("sink.tls_ca_file: only used with an amqps:// URL".to_owned());
        }
    }

    /// The publisher's batching, confirms, reconnect backoff and spool size.
    fn publishing_problems(&self, problems: &mut Vec<String>) {
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
    }

    /// The queues the sink declares: names once each, bindings, and the settings each queue
    /// type refuses.
    fn queue_problems(&self, problems: &mut Vec<String>) {
        let mut names = std::collections::BTreeSet::new();
        for (i, q) in self.queues.iter().enumerate() {
            let key = format!("sink.queues[{i}]");
            check_amqp_name(&format!("{key}.name"), &q.name, problems);
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
    use crate::config::{Config, SinkConfig};

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
