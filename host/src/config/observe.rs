//! `[web]` and `[alerts]`: the web server's address, token and limits, and the alert rules'
//! thresholds and notifiers, with their defaults and checks. What runs them is `observe`.
//!
//! Owns those keys. Must not run anything.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{common::default_true, duration::ConfigDuration, quote::quote};

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
            n.problems(&format!("alerts.notifiers[{i}]"), &mut p);
        }
        p
    }
}

impl NotifierConfig {
    /// Checks of one notifier, named under `key` (`alerts.notifiers[i]`). Never prints a
    /// secret.
    fn problems(&self, key: &str, p: &mut Vec<String>) {
        let is_http = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        match self {
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
    use crate::config::Config;
    use std::path::Path;

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
