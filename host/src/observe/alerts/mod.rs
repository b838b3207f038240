//! Alerts (R4.2): evaluates the rules over telemetry snapshots on a timer, and turns conditions
//! into notifications — once when an alert starts firing, again every `repeat_every` while it
//! stays active, and a "resolved" message when it clears — sent to Slack, Telegram or a JSON
//! webhook.
//!
//! Owns the firing/repeat/resolved state machine and its task. Must not touch collection: it
//! only reads snapshots, and hands notifications to notifier queues without waiting (a slow or
//! dead notifier can never slow down an exchange or another notifier).

pub mod notify;
pub mod rules;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinHandle, time::MissedTickBehavior};

use crate::{
    config::AlertsConfig,
    observe::telemetry::{ActiveAlert, EventKind, Severity, Snapshot, Telemetry},
};
use notify::Dispatch;
pub use notify::{AlertStatus, Notification};
use rules::Condition;

/// Every rule id (the `rule` label, `[alerts] disabled`); the list lives with the config,
/// which checks `disabled` against it.
pub use crate::config::ALERT_RULE_IDS as RULE_IDS;

/// How long [`Alerts::stop`] waits for the engine task.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// A notifier's secret is neither in the config nor in its environment variable.
    #[error("alerts notifier {notifier}: no secret configured and ${variable} is not set")]
    MissingSecret { notifier: String, variable: String },
    #[error("alerts: cannot build the HTTP client: {0}")]
    Client(String),
}

/// An active alert as the engine tracks it.
#[derive(Debug, Clone)]
struct Firing {
    severity: Severity,
    summary: String,
    since_ms: i64,
    last_sent_ms: i64,
    notifications: u32,
}

/// The firing / repeat / resolved state machine.
#[derive(Debug, Default)]
pub struct Engine {
    active: BTreeMap<(String, Option<String>), Firing>,
}

impl Engine {
    /// Applies the conditions that hold at `now_ms`; returns the notifications to send.
    pub fn step(
        &mut self,
        conditions: Vec<Condition>,
        now_ms: i64,
        repeat_every: Duration,
    ) -> Vec<Notification> {
        let repeat_ms = i64::try_from(repeat_every.as_millis()).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for c in conditions {
            let key = (c.rule.to_owned(), c.subject.clone());
            seen.insert(key.clone());
            match self.active.get_mut(&key) {
                None => {
                    out.push(Notification::new(
                        AlertStatus::Firing,
                        c.rule,
                        c.subject.as_deref(),
                        c.severity,
                        &c.summary,
                        now_ms,
                        None,
                        0,
                    ));
                    self.active.insert(
                        key,
                        Firing {
                            severity: c.severity,
                            summary: c.summary,
                            since_ms: now_ms,
                            last_sent_ms: now_ms,
                            notifications: 1,
                        },
                    );
                }
                Some(f) => {
                    f.summary = c.summary;
                    f.severity = c.severity;
                    if now_ms - f.last_sent_ms >= repeat_ms {
                        out.push(Notification::new(
                            AlertStatus::Firing,
                            c.rule,
                            c.subject.as_deref(),
                            f.severity,
                            &f.summary,
                            f.since_ms,
                            None,
                            f.notifications,
                        ));
                        f.last_sent_ms = now_ms;
                        f.notifications += 1;
                    }
                }
            }
        }
        let resolved: Vec<(String, Option<String>)> = self
            .active
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in resolved {
            if let Some(f) = self.active.remove(&key) {
                out.push(Notification::new(
                    AlertStatus::Resolved,
                    &key.0,
                    key.1.as_deref(),
                    f.severity,
                    &format!("Cleared. It was: {}", f.summary),
                    f.since_ms,
                    Some(now_ms),
                    0,
                ));
            }
        }
        out
    }

    /// The alerts firing now.
    pub fn active(&self) -> Vec<ActiveAlert> {
        self.active
            .iter()
            .map(|((rule, subject), f)| ActiveAlert {
                rule: rule.clone(),
                subject: subject.clone(),
                severity: f.severity,
                summary: f.summary.clone(),
                since_ms: f.since_ms,
                notifications: f.notifications,
            })
            .collect()
    }
}

/// Evaluates once: rules over `snap`, state machine, events, telemetry; returns what to send.
fn evaluate(
    engine: &mut Engine,
    config: &AlertsConfig,
    snap: &Snapshot,
    telemetry: &Telemetry,
) -> Vec<Notification> {
    let conditions = if config.enabled {
        rules::evaluate(config, snap)
    } else {
        Vec::new()
    };
    let notes = engine.step(conditions, snap.now_ms, config.repeat_every.0);
    for n in notes.iter().filter(|n| n.repeat == 0) {
        let exchange = n
            .subject
            .as_deref()
            .and_then(|s| s.split('/').next())
            .filter(|_| {
                !matches!(
                    n.rule.as_str(),
                    "sink_failing" | "sink_spooling" | "memory" | "config_reload_failed"
                )
            });
        let (severity, message) = match n.status {
            AlertStatus::Firing => (n.severity, format!("alert {}: {}", n.rule, n.summary)),
            AlertStatus::Resolved => (
                Severity::Info,
                format!("resolved {}: {}", n.rule, n.summary),
            ),
        };
        telemetry.publish(EventKind::Alert, severity, exchange, message);
        match n.status {
            AlertStatus::Firing => {
                tracing::warn!(rule = %n.rule, exchange = exchange.unwrap_or(""), subject = n.subject.as_deref().unwrap_or(""), summary = %n.summary, "alert firing")
            }
            AlertStatus::Resolved => {
                tracing::info!(rule = %n.rule, exchange = exchange.unwrap_or(""), subject = n.subject.as_deref().unwrap_or(""), "alert resolved")
            }
        }
    }
    telemetry.set_alerts(engine.active());
    notes
}

/// A configuration with its running notifiers.
struct Runtime {
    config: AlertsConfig,
    dispatch: Dispatch,
}

/// The running alert engine.
pub struct Alerts {
    runtime: watch::Sender<Arc<Runtime>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    telemetry: Telemetry,
}

/// Starts the engine and its notifiers. Must run inside a Tokio runtime. Fails when a
/// notifier's secret is missing (the error names the environment variable, never a value).
pub fn spawn(config: &AlertsConfig, telemetry: Telemetry) -> Result<Alerts, AlertsError> {
    let runtime = Arc::new(Runtime {
        config: config.clone(),
        dispatch: Dispatch::start(config, &telemetry)?,
    });
    let (runtime_tx, runtime_rx) = watch::channel(runtime);
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run(telemetry.clone(), runtime_rx, stop_rx));
    Ok(Alerts {
        runtime: runtime_tx,
        stop: stop_tx,
        task,
        telemetry,
    })
}

impl Alerts {
    /// Applies new alert settings (config reload). On error the running settings stay.
    pub fn reconfigure(&self, config: &AlertsConfig) -> Result<(), AlertsError> {
        let dispatch = Dispatch::start(config, &self.telemetry)?;
        self.runtime.send_replace(Arc::new(Runtime {
            config: config.clone(),
            dispatch,
        }));
        Ok(())
    }

    /// Stops evaluating; queued notifications are still delivered by their notifier tasks.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = tokio::time::timeout(STOP_GRACE, self.task).await;
    }
}

async fn run(
    telemetry: Telemetry,
    mut runtime: watch::Receiver<Arc<Runtime>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut engine = Engine::default();
    let every = |r: &Runtime| r.config.evaluate_every.0.max(Duration::from_millis(10));
    let mut current = Arc::clone(&runtime.borrow());
    let mut ticker = tokio::time::interval(every(&current));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            changed = runtime.changed() => {
                if changed.is_err() {
                    break;
                }
                current = Arc::clone(&runtime.borrow());
                ticker = tokio::time::interval(every(&current));
                ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
            }
            _ = ticker.tick() => {
                let snap = telemetry.snapshot(current.config.window.0);
                for n in evaluate(&mut engine, &current.config, &snap, &telemetry) {
                    current.dispatch.send(&n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(rule: &'static str, subject: &str) -> Condition {
        Condition {
            rule,
            subject: Some(subject.to_owned()),
            severity: Severity::Critical,
            summary: format!("{subject} is down"),
        }
    }

    #[test]
    fn fires_once_repeats_on_interval_then_resolves() {
        let mut e = Engine::default();
        let repeat = Duration::from_secs(60);
        let n = e.step(vec![cond("exchange_down", "a")], 0, repeat);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].status, AlertStatus::Firing);
        for t in (5_000..60_000).step_by(5_000) {
            assert!(e
                .step(vec![cond("exchange_down", "a")], t, repeat)
                .is_empty());
        }
        let n = e.step(vec![cond("exchange_down", "a")], 60_000, repeat);
        assert_eq!(
            (n.len(), n[0].repeat),
            (1, 1),
            "reminder after repeat_every"
        );
        assert_eq!(e.active()[0].notifications, 2);
        let n = e.step(vec![cond("exchange_down", "b")], 65_000, repeat);
        assert_eq!(n.len(), 2, "b fires, a resolves");
        let resolved = n
            .iter()
            .find(|n| n.status == AlertStatus::Resolved)
            .unwrap();
        assert_eq!(resolved.subject.as_deref(), Some("a"));
        assert_eq!(resolved.started_ms, 0);
        assert_eq!(resolved.resolved_ms, Some(65_000));
        assert!(e.step(vec![], 70_000, repeat)[0].status == AlertStatus::Resolved);
        assert!(e.active().is_empty());
    }
}
