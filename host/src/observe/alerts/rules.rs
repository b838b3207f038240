//! The alert rules (R4.2): pure functions from one telemetry snapshot to the conditions that
//! hold now. Durations ("down for longer than N s") are judged from the timestamps the
//! snapshot carries, so a rule keeps no state and is tested with hand-made snapshots.
//!
//! Owns what each rule means and says. Must not notify, log or remember: the engine
//! (`alerts/mod.rs`) turns conditions into firing / repeat / resolved messages.

use crate::{
    config::AlertsConfig,
    observe::health::BreakerState,
    observe::health::HealthStatus,
    observe::telemetry::{
        canary_held_back_summary, retired_summary, ExchangeStatus, ReloadResult, Severity,
        SinkState, Snapshot,
    },
};

use super::notify::human_duration;
use crate::{observe::telemetry::plugin_vocabulary::CanaryState, trust::RefusalReason};

/// One rule's verdict for one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub rule: &'static str,
    /// An exchange, `exchange/kind`, or none for process-wide rules.
    pub subject: Option<String>,
    pub severity: Severity,
    pub summary: String,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn on(config: &AlertsConfig, rule: &str) -> bool {
    !config.disabled.iter().any(|d| d == rule)
}

/// The conditions found so far; rules `[alerts] disabled` lists are left out.
struct Found<'c> {
    config: &'c AlertsConfig,
    out: Vec<Condition>,
}

impl Found<'_> {
    fn push(
        &mut self,
        rule: &'static str,
        subject: Option<String>,
        severity: Severity,
        summary: String,
    ) {
        if on(self.config, rule) {
            self.out.push(Condition {
                rule,
                subject,
                severity,
                summary,
            });
        }
    }
}

/// Every condition that holds at `snap.now_ms`.
pub fn evaluate(config: &AlertsConfig, snap: &Snapshot) -> Vec<Condition> {
    let mut found = Found {
        config,
        out: Vec::new(),
    };
    for ex in &snap.exchanges {
        exchange_down(&mut found, snap.now_ms, ex);
        breaker_open(&mut found, snap.now_ms, ex);
        error_rate_and_latency(&mut found, ex);
        stale(&mut found, ex);
    }
    sink(&mut found, snap);
    memory(&mut found, snap);
    config_reload_failed(&mut found, snap);
    plugins(&mut found, snap);
    found.out
}

/// " Last error: …" for summaries, or nothing.
fn last_error(ex: &ExchangeStatus) -> String {
    ex.last_error
        .as_deref()
        .map(|e| format!(" Last error: {e}"))
        .unwrap_or_default()
}

/// exchange_down: nothing answered for longer than the limit.
fn exchange_down(found: &mut Found<'_>, now: i64, ex: &ExchangeStatus) {
    let reference = ex.last_success_ms.unwrap_or(ex.first_seen_ms);
    let silent = now - reference;
    if silent < ms(found.config.exchange_down_after.0) {
        return;
    }
    let what = if ex.last_success_ms.is_some() {
        format!("no successful request for {}.", human_duration(silent))
    } else {
        format!(
            "no successful request since the collector started ({} ago).",
            human_duration(silent)
        )
    };
    found.push(
        "exchange_down",
        Some(ex.id.clone()),
        Severity::Critical,
        format!("{} is down: {what}{}", ex.id, last_error(ex)),
    );
}

/// breaker_open: not closed for longer than the limit.
fn breaker_open(found: &mut Found<'_>, now: i64, ex: &ExchangeStatus) {
    if ex.breaker == BreakerState::Closed && ex.status != Some(HealthStatus::Down) {
        return;
    }
    let since = ex.breaker_since_ms.unwrap_or(ex.first_seen_ms);
    if now - since < ms(found.config.breaker_open_after.0) {
        return;
    }
    let state = match ex.breaker {
        BreakerState::HalfOpen => "half-open (probing)",
        _ => "open",
    };
    found.push(
        "breaker_open",
        Some(ex.id.clone()),
        Severity::Warning,
        format!(
            "{}: circuit breaker {state} for {}; requests are held back.{}",
            ex.id,
            human_duration(now - since),
            last_error(ex)
        ),
    );
}

/// error_rate and latency, over the alert window (once it holds enough requests).
fn error_rate_and_latency(found: &mut Found<'_>, ex: &ExchangeStatus) {
    let config = found.config;
    let w = &ex.window;
    if w.requests < config.min_requests.max(1) {
        return;
    }
    if let Some(ratio) = w.error_ratio().filter(|r| *r > config.error_rate_above) {
        found.push(
            "error_rate",
            Some(ex.id.clone()),
            Severity::Warning,
            format!(
                "{}: {:.0}% of {} requests failed in the last {} (limit {:.0}%).{}",
                ex.id,
                ratio * 100.0,
                w.requests,
                human_duration(ms(config.window.0)),
                config.error_rate_above * 100.0,
                last_error(ex)
            ),
        );
    }
    let limit = config.latency_p95_above.0.as_secs_f64();
    if let Some(p95) = w.p95.filter(|p95| *p95 > limit) {
        found.push(
            "latency",
            Some(ex.id.clone()),
            Severity::Warning,
            format!(
                "{}: p95 latency {:.0} ms over the last {} (limit {:.0} ms): the exchange is slow.",
                ex.id,
                p95 * 1000.0,
                human_duration(ms(config.window.0)),
                limit * 1000.0
            ),
        );
    }
}

/// stale: the newest data of a watched kind is older than the limit.
fn stale(found: &mut Found<'_>, ex: &ExchangeStatus) {
    let config = found.config;
    let limit = config.stale_after.0.as_secs_f64();
    for k in ex
        .kinds
        .iter()
        .filter(|k| config.stale_kinds.contains(&k.kind))
    {
        if let Some(age) = k.data_age_seconds.filter(|age| *age >= limit) {
            found.push(
                "stale",
                Some(format!("{}/{}", ex.id, k.kind)),
                Severity::Warning,
                format!(
                    "{} {}: newest data is {} old (limit {}).",
                    ex.id,
                    k.kind,
                    human_duration((age * 1000.0) as i64),
                    human_duration(ms(config.stale_after.0))
                ),
            );
        }
    }
}

/// sink_failing and sink_spooling: the sink in that state for longer than the limit.
fn sink(found: &mut Found<'_>, snap: &Snapshot) {
    let config = found.config;
    let sink = &snap.sink;
    let held = snap.now_ms - sink.since_ms;
    let detail = if sink.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", sink.detail)
    };
    if sink.state == SinkState::Failing && held >= ms(config.sink_failing_after.0) {
        found.push(
            "sink_failing",
            None,
            Severity::Critical,
            format!(
                "sink failing for {}{detail}; records wait in memory.",
                human_duration(held)
            ),
        );
    }
    if sink.state == SinkState::Spooling && held >= ms(config.sink_spooling_after.0) {
        found.push(
            "sink_spooling",
            None,
            Severity::Warning,
            format!(
                "sink spooling to disk for {}{detail}; {} records spooled, {} dropped so far.",
                human_duration(held),
                sink.spooled,
                sink.dropped
            ),
        );
    }
}

/// memory: resident memory above the limit.
fn memory(found: &mut Found<'_>, snap: &Snapshot) {
    let limit = found.config.memory_above_bytes;
    let Some(p) = snap.process else {
        return;
    };
    if limit > 0 && p.resident_memory_bytes > limit {
        found.push(
            "memory",
            None,
            Severity::Critical,
            format!(
                "resident memory {:.1} MiB is above the limit of {:.1} MiB.",
                p.resident_memory_bytes as f64 / 1048576.0,
                limit as f64 / 1048576.0
            ),
        );
    }
}

/// config_reload_failed: the last reload was rejected or rolled back.
fn config_reload_failed(found: &mut Found<'_>, snap: &Snapshot) {
    let Some(r) = snap
        .config
        .last_reload
        .as_ref()
        .filter(|r| r.result != ReloadResult::Ok)
    else {
        return;
    };
    found.push(
        "config_reload_failed",
        None,
        Severity::Warning,
        format!(
            "config reload of {} {}: {}. The previous config keeps running.",
            r.version,
            match r.result {
                ReloadResult::Invalid => "was rejected",
                _ => "failed and was rolled back",
            },
            r.message
        ),
    );
}

/// plugin_refused, plugins_retired, plugin_canary_held_back.
fn plugins(found: &mut Found<'_>, snap: &Snapshot) {
    // plugin_refused: a plugin file or the plugin directory fails a trust check (critical:
    // someone else could change the code the collector runs) or duplicates an exchange id.
    for refusal in &snap.plugin_refusals {
        let severity = if refusal.reason == RefusalReason::Duplicate.as_str() {
            Severity::Warning
        } else {
            Severity::Critical
        };
        found.push(
            "plugin_refused",
            Some(refusal.path.clone()),
            severity,
            refusal.message.clone(),
        );
    }
    // plugins_retired: replaced versions stay mapped; past the limit, a restart is due.
    let retired = &snap.retired_plugins;
    if retired.versions > retired.max {
        found.push(
            "plugins_retired",
            None,
            Severity::Warning,
            retired_summary(retired),
        );
    }
    // plugin_canary_held_back: a replaced plugin disagrees with the running version; it does
    // not serve until an operator promotes or rejects it.
    for canary in &snap.plugin_canaries {
        if canary.state == CanaryState::HeldBack {
            found.push(
                "plugin_canary_held_back",
                Some(canary.exchange_id.clone()),
                Severity::Warning,
                canary_held_back_summary(canary),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        clock::now_ms,
        config::duration::ConfigDuration,
        config::AlertsConfig,
        observe::telemetry::{RequestOutcome, Telemetry, LIVE_WINDOW},
    };

    fn quick() -> AlertsConfig {
        AlertsConfig {
            exchange_down_after: ConfigDuration(Duration::from_secs(60)),
            breaker_open_after: ConfigDuration(Duration::ZERO),
            min_requests: 4,
            latency_p95_above: ConfigDuration(Duration::from_millis(500)),
            stale_after: ConfigDuration(Duration::from_secs(30)),
            sink_failing_after: ConfigDuration(Duration::ZERO),
            memory_above_bytes: 0,
            ..AlertsConfig::default()
        }
    }

    fn rules_of(c: &[Condition]) -> Vec<(&str, Option<&str>)> {
        c.iter().map(|c| (c.rule, c.subject.as_deref())).collect()
    }

    #[test]
    fn healthy_exchange_raises_nothing() {
        let t = Telemetry::default();
        t.health().success("a", now_ms());
        for _ in 0..10 {
            t.request(
                "a",
                "tickers",
                RequestOutcome::Ok,
                Duration::from_millis(20),
                10,
            );
        }
        t.cycle("a", "tickers", 5, 0, 5, None);
        t.sink_state(SinkState::Ok, "");
        assert_eq!(rules_of(&evaluate(&quick(), &t.snapshot(LIVE_WINDOW))), []);
    }

    #[test]
    fn each_rule_fires_on_its_condition() {
        let t = Telemetry::default();
        let now = now_ms();
        t.health().success("a", now - 120_000);
        t.health().failure("a", now, "HTTP 503 from http://x");
        t.health().breaker("a", BreakerState::Open);
        t.breaker("a", BreakerState::Open);
        for _ in 0..4 {
            t.request(
                "a",
                "tickers",
                RequestOutcome::Http5xx,
                Duration::from_secs(2),
                0,
            );
        }
        t.cycle("a", "funding", 3, 0, 3, Some(now - 45_000));
        t.sink_state(SinkState::Failing, "disk full");
        t.config_reload(ReloadResult::Invalid, "v2", "bad key");
        let mut cfg = quick();
        cfg.memory_above_bytes = 1;
        let c = evaluate(&cfg, &t.snapshot(cfg.window.0));
        let got = rules_of(&c);
        for expected in [
            ("exchange_down", Some("a")),
            ("breaker_open", Some("a")),
            ("error_rate", Some("a")),
            ("latency", Some("a")),
            ("stale", Some("a/funding")),
            ("sink_failing", None),
            ("memory", None),
            ("config_reload_failed", None),
        ] {
            assert!(got.contains(&expected), "{expected:?} missing from {got:?}");
        }
        let down = c.iter().find(|c| c.rule == "exchange_down").unwrap();
        assert!(
            down.summary.contains("2m 0s") || down.summary.contains("2m"),
            "{}",
            down.summary
        );
        assert!(down.summary.contains("HTTP 503"), "{}", down.summary);

        cfg.disabled = vec!["memory".into(), "stale".into()];
        let got = evaluate(&cfg, &t.snapshot(cfg.window.0));
        assert!(!got.iter().any(|c| c.rule == "memory" || c.rule == "stale"));
    }

    #[test]
    fn a_held_back_canary_alerts_until_it_is_decided() {
        use crate::observe::telemetry::plugin_vocabulary::{
            CanaryEvent, CanaryStatus, Decider, FieldDivergence, FieldExample, KindProgress,
            PluginEvent, Verdict,
        };
        let t = Telemetry::default();
        let mut status = CanaryStatus::new(
            "binance",
            7,
            "libfc_plugin_binance.so",
            "0.2.0",
            "0.1.0",
            3,
            0,
        );
        t.canary_progress(&status, Verdict::Continue);
        assert!(evaluate(&quick(), &t.snapshot(LIVE_WINDOW)).is_empty());

        status.state = CanaryState::HeldBack;
        status.reason =
            Some("binance tickers: field volume_24h_quote differs on 2 instruments".into());
        status.divergences.push(FieldDivergence {
            field: "volume_24h_quote".into(),
            instruments: 2,
            records: 2,
            examples: vec![FieldExample {
                kind: "ticker".into(),
                raw_symbol: "BTCUSDT".into(),
                active: serde_json::json!(1.0),
                candidate: serde_json::json!(1000.0),
            }],
        });
        status.kinds.push(KindProgress {
            exchange: "binance".into(),
            kind: "tickers".into(),
            required: true,
            agreed: 0,
            diverged: 1,
        });
        t.canary_progress(&status, Verdict::HoldBack);
        let c = evaluate(&quick(), &t.snapshot(LIVE_WINDOW));
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].rule, "plugin_canary_held_back");
        assert_eq!(c[0].subject.as_deref(), Some("binance"));
        assert!(
            c[0].summary.contains("field volume_24h_quote differs")
                && c[0].summary.contains("canary promote binance"),
            "{}",
            c[0].summary
        );
        let text = t
            .render_metrics(crate::observe::telemetry::Format::Prometheus)
            .unwrap();
        for line in [
            "futures_collector_plugin_canary{exchange=\"binance\",state=\"held_back\"} 1",
            "futures_collector_plugin_canary{exchange=\"binance\",state=\"comparing\"} 0",
            "futures_collector_plugin_canary_cycles_total{exchange=\"binance\",result=\"diverged\"} 1",
            "futures_collector_plugin_canary_divergent_records_total{exchange=\"binance\",field=\"volume_24h_quote\"} 2",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }

        t.plugin_event(&PluginEvent::Canary {
            exchange_id: "binance".into(),
            file: "/p/libfc_plugin_binance.so".into(),
            version: "0.2.0".into(),
            generation: 7,
            event: CanaryEvent::Rejected {
                by: Decider::Operator,
            },
        });
        assert!(evaluate(&quick(), &t.snapshot(LIVE_WINDOW)).is_empty());
        assert!(t.snapshot(LIVE_WINDOW).plugin_canaries.is_empty());
        // A worker's report that was on its way does not bring it back.
        status.kinds[0].diverged = 2;
        t.canary_progress(&status, Verdict::HoldBack);
        assert!(t.snapshot(LIVE_WINDOW).plugin_canaries.is_empty());
        assert!(evaluate(&quick(), &t.snapshot(LIVE_WINDOW)).is_empty());
        let text = t
            .render_metrics(crate::observe::telemetry::Format::Prometheus)
            .unwrap();
        assert!(text.contains(
            "futures_collector_plugin_canary{exchange=\"binance\",state=\"held_back\"} 0"
        ));
    }

    #[test]
    fn plugin_refusals_and_retired_versions_alert() {
        use crate::{
            observe::telemetry::plugin_vocabulary::{PluginEvent, RegistrySummary},
            trust::Refusal,
        };
        let t = Telemetry::default();
        let refused = |path: &str, reason| {
            Refusal::new(
                std::path::Path::new(path),
                reason,
                format!("{path}: plugin file refused"),
            )
        };
        let summary = RegistrySummary {
            refused: vec![
                refused("/p/a.so", RefusalReason::Writable),
                refused("/p/b.so", RefusalReason::Duplicate),
            ],
            retired_versions: 3,
            retired_mapped_bytes: 3 << 20,
            max_retired: 2,
        };
        t.plugin_event(&PluginEvent::Summary(summary.clone()));
        let c = evaluate(&quick(), &t.snapshot(LIVE_WINDOW));
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.rule, c.subject.as_deref(), c.severity))
            .collect();
        assert_eq!(
            got,
            [
                ("plugin_refused", Some("/p/a.so"), Severity::Critical),
                ("plugin_refused", Some("/p/b.so"), Severity::Warning),
                ("plugins_retired", None, Severity::Warning),
            ]
        );
        let retired = &c[2].summary;
        assert!(
            retired.contains("3 retired plugin versions keep 3.0 MiB"),
            "{retired}"
        );
        assert!(retired.contains("restart"), "{retired}");

        t.plugin_event(&PluginEvent::Summary(RegistrySummary {
            refused: Vec::new(),
            retired_versions: 2,
            ..summary
        }));
        assert!(
            evaluate(&quick(), &t.snapshot(LIVE_WINDOW)).is_empty(),
            "at the limit: quiet"
        );
    }

    #[test]
    fn durations_are_respected() {
        let t = Telemetry::default();
        t.health().success("a", now_ms());
        t.breaker("a", BreakerState::Open);
        t.sink_state(SinkState::Spooling, "");
        let mut cfg = quick();
        cfg.breaker_open_after = ConfigDuration(Duration::from_secs(30));
        let got = evaluate(&cfg, &t.snapshot(LIVE_WINDOW));
        assert!(got.is_empty(), "too early: {got:?}");
    }
}
