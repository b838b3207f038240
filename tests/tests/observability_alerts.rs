//! Alerts end to end over real HTTP (R4.2): the alert engine watches a `Telemetry` fed by hand,
//! and a tiny axum server on 127.0.0.1:0 stands in for Slack, Telegram and a JSON webhook. An
//! alert fires once, repeats at `repeat_every` while active, and resolves — in Slack's
//! (`{"text"}`) and Telegram's (`POST {base}/bot<token>/sendMessage` with `chat_id`, `text`)
//! formats. A hanging notifier never delays another one, sending is rate-limited, and a
//! missing secret is a start error naming the variable.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Bytes, http::Uri, Router};
use futures_collector::{
    clock::now_ms,
    config::duration::ConfigDuration,
    config::{AlertsConfig, NotifierConfig},
    observe::alerts::RULE_IDS,
    observe::health::BreakerState,
    observe::telemetry::{EventKind, Format, Telemetry},
};
use integration_tests::wait_until;

type Inbox = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A receiver that records (path, JSON body) of every POST; paths under `/slow/` answer after
/// 5 s.
async fn receiver() -> (SocketAddr, Inbox) {
    let inbox: Inbox = Arc::default();
    let seen = Arc::clone(&inbox);
    let app = Router::new().fallback(move |uri: Uri, body: Bytes| {
        let seen = Arc::clone(&seen);
        async move {
            if uri.path().starts_with("/slow/") {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            seen.lock().unwrap().push((uri.path().to_owned(), json));
            axum::Json(serde_json::json!({ "ok": true }))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, inbox)
}

fn messages(inbox: &Inbox, path: &str) -> Vec<serde_json::Value> {
    inbox
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, v)| v.clone())
        .collect()
}

fn text_of(v: &serde_json::Value) -> String {
    v["text"].as_str().unwrap_or_default().to_owned()
}

/// Only `keep` on, fast evaluation.
fn only(keep: &str, notifiers: Vec<NotifierConfig>) -> AlertsConfig {
    AlertsConfig {
        disabled: RULE_IDS
            .iter()
            .filter(|r| **r != keep)
            .map(|r| (*r).to_owned())
            .collect(),
        evaluate_every: ConfigDuration(Duration::from_millis(50)),
        repeat_every: ConfigDuration(Duration::from_millis(400)),
        breaker_open_after: ConfigDuration(Duration::ZERO),
        notifiers,
        ..AlertsConfig::default()
    }
}

#[tokio::test]
async fn breaker_alert_fires_repeats_and_resolves_in_slack_telegram_and_webhook_formats() {
    let (addr, inbox) = receiver().await;
    let slack_path = "/services/T000/B000/XXXXSECRET";
    let telegram_path = "/telegram/bot123456:TOKENSECRET/sendMessage";
    let config = only(
        "breaker_open",
        vec![
            NotifierConfig::Slack {
                webhook_url: Some(format!("http://{addr}{slack_path}")),
                webhook_url_env: "UNUSED".into(),
            },
            NotifierConfig::Telegram {
                bot_token: Some("123456:TOKENSECRET".into()),
                bot_token_env: "UNUSED".into(),
                chat_id: "-1001234567".into(),
                api_base: format!("http://{addr}/telegram"),
            },
            NotifierConfig::Webhook {
                url: Some(format!("http://{addr}/hook")),
                url_env: "UNUSED".into(),
            },
        ],
    );
    let t = Telemetry::default();
    t.health().success("binance", now_ms());
    let engine = futures_collector::observe::alerts::spawn(&config, t.clone()).unwrap();

    // The breaker opens.
    t.health().breaker("binance", BreakerState::Open);
    t.breaker("binance", BreakerState::Open);
    assert!(
        wait_until(Duration::from_secs(5), || {
            !messages(&inbox, slack_path).is_empty()
                && !messages(&inbox, telegram_path).is_empty()
                && !messages(&inbox, "/hook").is_empty()
        })
        .await
        .is_some(),
        "firing message in every format: {:?}",
        inbox.lock().unwrap()
    );
    let slack = &messages(&inbox, slack_path)[0];
    let text = text_of(slack);
    assert!(
        text.contains("[FIRING]") && text.contains("breaker_open") && text.contains("binance"),
        "{text}"
    );
    assert_eq!(
        slack.as_object().unwrap().len(),
        1,
        "Slack payload is {{\"text\"}}: {slack}"
    );
    let telegram = &messages(&inbox, telegram_path)[0];
    assert_eq!(telegram["chat_id"], "-1001234567");
    assert!(text_of(telegram).contains("[FIRING]"));
    let hook = &messages(&inbox, "/hook")[0];
    assert_eq!(hook["status"], "firing");
    assert_eq!(hook["rule"], "breaker_open");
    assert_eq!(hook["subject"], "binance");
    assert_eq!(hook["severity"], "warning");
    assert_eq!(hook["repeat"], 0);

    let metrics = t.render_metrics(Format::Prometheus).unwrap();
    assert!(metrics.contains("futures_collector_alerts_firing{rule=\"breaker_open\"} 1"));
    assert_eq!(t.snapshot(Duration::from_secs(60)).alerts.len(), 1);

    // Still open 1 s later: reminders every 400 ms, not one message per 50 ms evaluation.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let firing = messages(&inbox, slack_path);
    assert!(
        (2..=4).contains(&firing.len()),
        "first + reminders only: {} messages",
        firing.len()
    );
    assert!(
        text_of(&firing[1]).contains("reminder 1"),
        "{}",
        text_of(&firing[1])
    );

    // Recovery: one resolved message each.
    t.health().breaker("binance", BreakerState::Closed);
    t.breaker("binance", BreakerState::Closed);
    assert!(
        wait_until(Duration::from_secs(5), || {
            [slack_path, telegram_path, "/hook"].iter().all(|p| {
                messages(&inbox, p)
                    .iter()
                    .any(|m| text_of(m).contains("[RESOLVED]"))
            })
        })
        .await
        .is_some(),
        "resolved in every format"
    );
    let resolved: Vec<_> = messages(&inbox, "/hook")
        .into_iter()
        .filter(|m| m["status"] == "resolved")
        .collect();
    assert_eq!(resolved.len(), 1);
    assert!(
        resolved[0]["resolved_ms"].as_i64().unwrap() >= resolved[0]["started_ms"].as_i64().unwrap()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = messages(&inbox, slack_path).len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        messages(&inbox, slack_path).len(),
        after,
        "quiet once resolved"
    );

    let kinds: Vec<String> = t
        .recent_events(20)
        .into_iter()
        .filter(|e| e.kind == EventKind::Alert)
        .map(|e| e.message)
        .collect();
    assert!(
        kinds.iter().any(|m| m.starts_with("alert breaker_open")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|m| m.starts_with("resolved breaker_open")),
        "{kinds:?}"
    );
    let metrics = t.render_metrics(Format::Prometheus).unwrap();
    assert!(metrics.contains("futures_collector_alerts_firing{rule=\"breaker_open\"} 0"));
    assert!(metrics.contains(
        "futures_collector_alert_notifications_total{notifier=\"slack\",outcome=\"sent\"}"
    ));
    engine.stop().await;
}

#[tokio::test]
async fn a_hanging_notifier_delays_nobody_and_sending_is_rate_limited() {
    let (addr, inbox) = receiver().await;
    let mut config = only(
        "config_reload_failed",
        vec![
            NotifierConfig::Webhook {
                url: Some(format!("http://{addr}/slow/hook")),
                url_env: "UNUSED".into(),
            },
            NotifierConfig::Slack {
                webhook_url: Some(format!("http://{addr}/slack")),
                webhook_url_env: "UNUSED".into(),
            },
        ],
    );
    config.notify_timeout = ConfigDuration(Duration::from_millis(300));
    config.repeat_every = ConfigDuration(Duration::from_millis(100));
    config.notify_max_per_minute = 2;
    let t = Telemetry::default();
    let engine = futures_collector::observe::alerts::spawn(&config, t.clone()).unwrap();
    t.config_reload(
        futures_collector::observe::telemetry::ReloadResult::RolledBack,
        "v7",
        "plugin dir missing",
    );
    let fast = wait_until(Duration::from_secs(3), || {
        !messages(&inbox, "/slack").is_empty()
    })
    .await
    .expect("slack notified while the webhook hangs");
    assert!(fast < Duration::from_secs(1), "{fast:?}");
    let text = text_of(&messages(&inbox, "/slack")[0]);
    assert!(
        text.contains("config_reload_failed") && text.contains("plugin dir missing"),
        "{text}"
    );

    // Reminders every 100 ms for 1 s, but at most 2 per minute go out.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(messages(&inbox, "/slack").len(), 2, "rate limited");
    let metrics = t.render_metrics(Format::Prometheus).unwrap();
    let limited = metrics
        .lines()
        .find(|l| l.starts_with("futures_collector_alert_notifications_total{notifier=\"slack\",outcome=\"rate_limited\"}"))
        .expect("rate-limited notifications are counted");
    assert!(!limited.ends_with(" 0"), "{limited}");
    assert!(
        metrics.contains(
            "futures_collector_alert_notifications_total{notifier=\"webhook\",outcome=\"failed\"}"
        ),
        "the hanging webhook timed out and was counted: {metrics}"
    );
    engine.stop().await;
}

#[tokio::test]
async fn a_missing_secret_is_a_start_error_naming_the_variable() {
    let config = AlertsConfig {
        notifiers: vec![NotifierConfig::Telegram {
            bot_token: None,
            bot_token_env: "FC_TEST_TELEGRAM_TOKEN_THAT_IS_NOT_SET".into(),
            chat_id: "1".into(),
            api_base: "http://127.0.0.1:9".into(),
        }],
        ..AlertsConfig::default()
    };
    let e = futures_collector::observe::alerts::spawn(&config, Telemetry::default())
        .err()
        .expect("start fails");
    assert!(
        e.to_string()
            .contains("FC_TEST_TELEGRAM_TOKEN_THAT_IS_NOT_SET"),
        "{e}"
    );
}
