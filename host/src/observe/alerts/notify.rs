//! Notifiers: Slack incoming webhook, Telegram bot API and a generic JSON webhook. Each runs
//! as its own task behind a bounded queue, with its own per-minute limit and request timeout.
//!
//! Owns the payload formats and secret handling: webhook URLs and bot tokens come from the
//! config or the environment, are used only to send, and are never logged or shown (errors are
//! stripped of their URL; `/api/status` sees scheme and host only). Must not block the
//! caller: `Dispatch::send` only tries to enqueue; a full queue drops and counts.

use std::{collections::VecDeque, time::Duration};

use serde::Serialize;
use tokio::{sync::mpsc, time::Instant};

use super::AlertsError;
use crate::{
    config::{AlertsConfig, NotifierConfig},
    observe::telemetry::{NotifierInfo, Severity, Telemetry},
};

/// Notifications one notifier may have waiting; beyond it new ones are dropped and counted.
pub const NOTIFY_QUEUE: usize = 64;
/// The window of `notify_max_per_minute`.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One message about one alert; the generic webhook receives it as JSON as is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub status: AlertStatus,
    pub rule: String,
    /// An exchange, `exchange/kind`, or none for process-wide rules.
    pub subject: Option<String>,
    pub severity: Severity,
    pub summary: String,
    /// Unix ms when the alert started firing.
    pub started_ms: i64,
    /// Unix ms when it resolved.
    pub resolved_ms: Option<i64>,
    /// 0 for the first message, 1, 2 … for reminders while it stays active.
    pub repeat: u32,
    pub service: &'static str,
    pub version: &'static str,
    /// The human-readable message (what Slack and Telegram show).
    pub text: String,
}

/// `1h 2m`, `2m 5s`, `42s`.
pub fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

impl Notification {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        status: AlertStatus,
        rule: &str,
        subject: Option<&str>,
        severity: Severity,
        summary: &str,
        started_ms: i64,
        resolved_ms: Option<i64>,
        repeat: u32,
    ) -> Self {
        let about = match subject {
            Some(s) => format!("{rule} · {s}"),
            None => rule.to_owned(),
        };
        let text = match (status, resolved_ms) {
            (AlertStatus::Resolved, Some(end)) => format!(
                "✅ [RESOLVED] {about} (was firing for {})\n{summary}\n— futures-collector",
                human_duration(end - started_ms)
            ),
            (AlertStatus::Resolved, None) => {
                format!("✅ [RESOLVED] {about}\n{summary}\n— futures-collector")
            }
            (AlertStatus::Firing, _) if repeat > 0 => format!(
                "🔁 [FIRING, reminder {repeat}] {} · {about}\n{summary}\n— futures-collector",
                severity.as_str()
            ),
            (AlertStatus::Firing, _) => {
                let icon = if severity == Severity::Critical {
                    "🔴"
                } else {
                    "🟠"
                };
                format!(
                    "{icon} [FIRING] {} · {about}\n{summary}\n— futures-collector",
                    severity.as_str()
                )
            }
        };
        Self {
            status,
            rule: rule.to_owned(),
            subject: subject.map(str::to_owned),
            severity,
            summary: summary.to_owned(),
            started_ms,
            resolved_ms,
            repeat,
            service: "futures-collector",
            version: env!("CARGO_PKG_VERSION"),
            text,
        }
    }
}

/// Where one notifier sends, with its secret resolved.
#[derive(Clone)]
enum Target {
    Slack { url: String },
    Telegram { url: String, chat_id: String },
    Webhook { url: String },
}

impl Target {
    fn kind(&self) -> &'static str {
        match self {
            Self::Slack { .. } => "slack",
            Self::Telegram { .. } => "telegram",
            Self::Webhook { .. } => "webhook",
        }
    }

    fn url(&self) -> &str {
        match self {
            Self::Slack { url } | Self::Telegram { url, .. } | Self::Webhook { url } => url,
        }
    }

    fn body(&self, n: &Notification) -> serde_json::Value {
        match self {
            Self::Slack { .. } => serde_json::json!({ "text": n.text }),
            Self::Telegram { chat_id, .. } => serde_json::json!({
                "chat_id": chat_id,
                "text": n.text,
                "disable_web_page_preview": true,
            }),
            Self::Webhook { .. } => serde_json::to_value(n).unwrap_or_default(),
        }
    }
}

/// Scheme and host of a URL; path, query, user info and tokens are cut.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<redacted>".to_owned();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}/<redacted>")
}

fn secret(notifier: &str, value: &Option<String>, env: &str) -> Result<String, AlertsError> {
    if let Some(v) = value.as_ref().filter(|v| !v.trim().is_empty()) {
        return Ok(v.trim().to_owned());
    }
    match std::env::var(env) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(AlertsError::MissingSecret {
            notifier: notifier.to_owned(),
            variable: env.to_owned(),
        }),
    }
}

fn target(notifier: &str, config: &NotifierConfig) -> Result<Target, AlertsError> {
    Ok(match config {
        NotifierConfig::Slack {
            webhook_url,
            webhook_url_env,
        } => Target::Slack {
            url: secret(notifier, webhook_url, webhook_url_env)?,
        },
        NotifierConfig::Telegram {
            bot_token,
            bot_token_env,
            chat_id,
            api_base,
        } => {
            let token = secret(notifier, bot_token, bot_token_env)?;
            Target::Telegram {
                url: format!("{}/bot{token}/sendMessage", api_base.trim_end_matches('/')),
                chat_id: chat_id.trim().to_owned(),
            }
        }
        NotifierConfig::Webhook { url, url_env } => Target::Webhook {
            url: secret(notifier, url, url_env)?,
        },
    })
}

/// The notifier tasks of one configuration; dropping it lets them drain and end.
pub struct Dispatch {
    notifiers: Vec<(String, mpsc::Sender<Notification>)>,
    telemetry: Telemetry,
}

impl Dispatch {
    /// Resolves every notifier's secret and starts its task. Must run inside a Tokio runtime.
    pub fn start(config: &AlertsConfig, telemetry: &Telemetry) -> Result<Self, AlertsError> {
        let client = reqwest::Client::builder()
            .timeout(config.notify_timeout.0)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("futures-collector/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AlertsError::Client(e.without_url().to_string()))?;
        let mut targets = Vec::new();
        for (i, n) in config.notifiers.iter().enumerate() {
            let kind = match n {
                NotifierConfig::Slack { .. } => "slack",
                NotifierConfig::Telegram { .. } => "telegram",
                NotifierConfig::Webhook { .. } => "webhook",
            };
            let same_before = config.notifiers[..i]
                .iter()
                .filter(|o| std::mem::discriminant(*o) == std::mem::discriminant(n))
                .count();
            let name = if same_before == 0 {
                kind.to_owned()
            } else {
                format!("{kind}-{}", same_before + 1)
            };
            targets.push((name.clone(), target(&name, n)?));
        }
        let mut infos = Vec::new();
        let mut notifiers = Vec::new();
        for (name, target) in targets {
            infos.push(NotifierInfo {
                name: name.clone(),
                kind: target.kind(),
                destination: redact_url(target.url()),
            });
            let (tx, rx) = mpsc::channel(NOTIFY_QUEUE);
            tokio::spawn(run_notifier(
                name.clone(),
                target,
                client.clone(),
                rx,
                config.notify_max_per_minute,
                telemetry.clone(),
            ));
            notifiers.push((name, tx));
        }
        telemetry.set_notifiers(infos);
        Ok(Self {
            notifiers,
            telemetry: telemetry.clone(),
        })
    }

    /// Hands `n` to every notifier without waiting; a full queue drops it (counted).
    pub fn send(&self, n: &Notification) {
        for (name, tx) in &self.notifiers {
            if tx.try_send(n.clone()).is_err() {
                self.telemetry.alert_notification(name, "dropped");
                tracing::warn!(notifier = %name, rule = %n.rule, "alert notification dropped: notifier queue full");
            }
        }
    }
}

/// At most `max` sends in any [`RATE_WINDOW`].
struct RateLimit {
    max: usize,
    sent: VecDeque<Instant>,
}

impl RateLimit {
    fn allow(&mut self, now: Instant) -> bool {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= self.max {
            return false;
        }
        self.sent.push_back(now);
        true
    }
}

async fn run_notifier(
    name: String,
    target: Target,
    client: reqwest::Client,
    mut rx: mpsc::Receiver<Notification>,
    max_per_minute: u32,
    telemetry: Telemetry,
) {
    let mut limit = RateLimit {
        max: max_per_minute.max(1) as usize,
        sent: VecDeque::new(),
    };
    while let Some(n) = rx.recv().await {
        if !limit.allow(Instant::now()) {
            telemetry.alert_notification(&name, "rate_limited");
            tracing::warn!(notifier = %name, rule = %n.rule, "alert notification dropped: more than notify_max_per_minute");
            continue;
        }
        let body = serde_json::to_vec(&target.body(&n)).unwrap_or_default();
        let result = client
            .post(target.url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                telemetry.alert_notification(&name, "sent");
                tracing::debug!(notifier = %name, rule = %n.rule, status = ?n.status, "alert notification sent");
            }
            Ok(r) => {
                telemetry.alert_notification(&name, "failed");
                tracing::warn!(notifier = %name, rule = %n.rule, http_status = r.status().as_u16(), "alert notification refused");
            }
            Err(e) => {
                telemetry.alert_notification(&name, "failed");
                // Never log the URL: it carries the webhook secret or the bot token.
                tracing::warn!(notifier = %name, rule = %n.rule, error = %e.without_url(), "alert notification failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secrets() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/SECRET"),
            "https://hooks.slack.com/<redacted>"
        );
        assert_eq!(
            redact_url("https://api.telegram.org/bot123:SECRET/sendMessage"),
            "https://api.telegram.org/<redacted>"
        );
        assert_eq!(
            redact_url("http://user:SECRET@10.0.0.1:8080?token=SECRET"),
            "http://10.0.0.1:8080/<redacted>"
        );
        assert_eq!(redact_url("SECRET"), "<redacted>");
    }

    #[test]
    fn rate_limit_allows_max_per_window() {
        let mut l = RateLimit {
            max: 2,
            sent: VecDeque::new(),
        };
        let t = Instant::now();
        assert!(l.allow(t));
        assert!(l.allow(t));
        assert!(!l.allow(t + Duration::from_secs(59)));
        assert!(l.allow(t + RATE_WINDOW));
    }

    #[test]
    fn texts_say_what_and_for_how_long() {
        let f = Notification::new(
            AlertStatus::Firing,
            "exchange_down",
            Some("binance"),
            Severity::Critical,
            "no successful request for 75s",
            0,
            None,
            0,
        );
        assert!(f
            .text
            .starts_with("🔴 [FIRING] critical · exchange_down · binance"));
        let r = Notification::new(
            AlertStatus::Resolved,
            "exchange_down",
            Some("binance"),
            Severity::Critical,
            "answers again",
            0,
            Some(125_000),
            0,
        );
        assert!(
            r.text.contains("[RESOLVED]") && r.text.contains("2m 5s"),
            "{}",
            r.text
        );
        assert_eq!(human_duration(7_500_000), "2h 5m");
    }

    #[test]
    fn missing_secret_names_the_variable_not_a_value() {
        let e = secret("slack", &None, "FC_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(e.to_string().contains("FC_TEST_SURELY_UNSET_VARIABLE"));
    }
}
