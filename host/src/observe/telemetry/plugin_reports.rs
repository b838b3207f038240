//! What the plugin registry and the canaries report: loads, failures, refusals, removals,
//! retired versions, canary progress and decisions (status, metrics, event feed).
//!
//! Owns those reports. Must not decide anything about plugins.

use crate::{clock::now_ms, trust::RefusalReason};

use super::{
    events::EventKind, events::Severity, metrics::CanaryCycleLabels, metrics::CanaryFieldLabels,
    metrics::CanaryStateLabels, metrics::PluginLabels, metrics::ReasonLabels,
    plugin_vocabulary::CanaryEvent, plugin_vocabulary::CanaryState,
    plugin_vocabulary::CanaryStatus, plugin_vocabulary::Decider, plugin_vocabulary::PluginEvent,
    plugin_vocabulary::RegistrySummary, plugin_vocabulary::Verdict,
    status::canary_held_back_summary, status::retired_summary, status::PluginRefusal,
    status::PluginStatus, status::RetiredPlugins, truncate, Telemetry, MAX_ERROR_TEXT,
};

/// Decided or superseded canaries remembered so that late worker reports are ignored.
pub(super) const MAX_ENDED_CANARIES: usize = 64;

impl Telemetry {
    // ---- plugins (plugin registry) ----

    /// A plugin was loaded, rejected or removed.
    pub fn plugin_event(&self, event: &PluginEvent) {
        match event {
            PluginEvent::Loaded {
                file,
                exchange_id,
                version,
                replaced,
            } => self.plugin_loaded(&file_name(file), exchange_id, version, *replaced),
            PluginEvent::Failed { file, error } => {
                self.inner.metrics.plugin_load_failures.inc();
                self.publish(
                    EventKind::Plugin,
                    Severity::Warning,
                    None,
                    truncate(
                        &format!("plugin rejected: {}: {error}", file_name(file)),
                        MAX_ERROR_TEXT,
                    ),
                );
            }
            PluginEvent::Refused { reason, error, .. } => {
                let severity = if *reason == RefusalReason::Duplicate {
                    Severity::Warning
                } else {
                    Severity::Critical
                };
                self.publish(
                    EventKind::Plugin,
                    severity,
                    None,
                    truncate(error, MAX_ERROR_TEXT),
                );
            }
            PluginEvent::Insecure { warning, .. } => {
                self.publish(
                    EventKind::Plugin,
                    Severity::Warning,
                    None,
                    truncate(warning, MAX_ERROR_TEXT),
                );
            }
            PluginEvent::Summary(summary) => self.plugin_registry(summary),
            PluginEvent::Canary {
                exchange_id,
                file,
                version,
                generation,
                event,
            } => self.canary_event(exchange_id, &file_name(file), version, *generation, event),
            PluginEvent::Removed { file, exchange_id } => {
                self.forget_plugin(exchange_id);
                self.publish(
                    EventKind::Plugin,
                    Severity::Warning,
                    Some(exchange_id),
                    format!("plugin file removed: {}", file_name(file)),
                );
            }
        }
    }

    /// A version serves `exchange_id` now: the status table, `plugins_loaded`, the feed.
    fn plugin_loaded(&self, file: &str, exchange_id: &str, version: &str, replaced: bool) {
        self.forget_plugin(exchange_id);
        self.state().plugins.insert(
            exchange_id.to_owned(),
            PluginStatus {
                exchange_id: exchange_id.to_owned(),
                version: version.to_owned(),
                file: file.to_owned(),
                loaded_ms: now_ms(),
                replaced,
            },
        );
        self.inner
            .metrics
            .plugins_loaded
            .get_or_create(&PluginLabels {
                exchange: exchange_id.to_owned(),
                version: version.to_owned(),
            })
            .set(1);
        let verb = if replaced { "replaced" } else { "loaded" };
        self.publish(
            EventKind::Plugin,
            Severity::Info,
            Some(exchange_id),
            format!("plugin {verb}: {file} {version}"),
        );
    }

    /// Drops `exchange_id`'s row and its `plugins_loaded` series.
    fn forget_plugin(&self, exchange_id: &str) {
        let removed = self.state().plugins.remove(exchange_id);
        if let Some(old) = removed {
            self.inner.metrics.plugins_loaded.remove(&PluginLabels {
                exchange: old.exchange_id,
                version: old.version,
            });
        }
    }

    /// A canary candidate started, was decided or superseded.
    fn canary_event(
        &self,
        exchange_id: &str,
        file: &str,
        version: &str,
        generation: u64,
        event: &CanaryEvent,
    ) {
        let (severity, text) = match event {
            CanaryEvent::Started {
                active_version,
                status,
            } => {
                self.canary_progress(status, Verdict::Continue);
                (
                    Severity::Info,
                    format!(
                        "plugin canary started: {file} {version} parses beside the running {active_version} ({} agreeing cycles per kind before it serves)",
                        status.cycles_required
                    ),
                )
            }
            CanaryEvent::Promoted { by } => (
                Severity::Info,
                format!(
                    "plugin canary promoted: {file} {version} serves now ({})",
                    match by {
                        Decider::Canary => "every kind agreed",
                        Decider::Operator => "by an operator",
                    }
                ),
            ),
            CanaryEvent::Rejected { by } => (
                Severity::Warning,
                format!(
                    "plugin canary rejected{}: {file} {version} will not serve; the running version stays until the file changes",
                    match by {
                        Decider::Canary => "",
                        Decider::Operator => " by an operator",
                    }
                ),
            ),
            CanaryEvent::Superseded => (
                Severity::Info,
                format!("plugin canary ended: {file} {version} was replaced or removed before a decision"),
            ),
        };
        if !matches!(event, CanaryEvent::Started { .. }) {
            let mut state = self.state();
            // A worker's report still on its way must not bring the canary back.
            if state.ended_canaries.len() >= MAX_ENDED_CANARIES {
                state.ended_canaries.pop_front();
            }
            state.ended_canaries.push_back(generation);
            if state
                .plugin_canaries
                .get(exchange_id)
                .is_some_and(|c| c.generation == generation)
            {
                state.plugin_canaries.remove(exchange_id);
                drop(state);
                self.set_canary_state(exchange_id, None);
            }
        }
        self.publish(EventKind::Plugin, severity, Some(exchange_id), text);
    }

    /// `plugin_canary{exchange, state}`: 1 for `state`, 0 for the others (all 0: none).
    fn set_canary_state(&self, exchange_id: &str, state: Option<CanaryState>) {
        for s in CanaryState::ALL {
            self.inner
                .metrics
                .plugin_canary
                .get_or_create(&CanaryStateLabels {
                    exchange: exchange_id.to_owned(),
                    state: s.as_str(),
                })
                .set(i64::from(Some(s) == state));
        }
    }

    /// A canary compared a cycle (`verdict`: what it concluded); `status` is its standing now.
    pub fn canary_progress(&self, status: &CanaryStatus, verdict: Verdict) {
        let m = &self.inner.metrics;
        let exchange = status.exchange_id.clone();
        let result = match verdict {
            Verdict::Continue | Verdict::Promote => Some("agreed"),
            Verdict::HoldBack => Some("diverged"),
            Verdict::Ignored => None,
        };
        if result.is_some() {
            // Both series exist from the first report on, at 0.
            for result in ["agreed", "diverged"] {
                let _ = m.plugin_canary_cycles.get_or_create(&CanaryCycleLabels {
                    exchange: exchange.clone(),
                    result,
                });
            }
        }
        let counted = |s: &CanaryStatus| s.kinds.iter().map(|k| k.agreed + k.diverged).sum::<u32>();
        let previous = {
            let mut state = self.state();
            if state.ended_canaries.contains(&status.generation) {
                return;
            }
            let previous = state
                .plugin_canaries
                .get(&exchange)
                .filter(|p| p.generation == status.generation)
                .cloned();
            // Reports of two instances may arrive out of order: never go back.
            if previous
                .as_ref()
                .is_some_and(|p| counted(p) > counted(status))
            {
                return;
            }
            state
                .plugin_canaries
                .insert(exchange.clone(), status.clone());
            previous
        };
        let before = previous.as_ref().map_or(0, counted);
        if let (Some(result), true) = (result, counted(status) > before) {
            m.plugin_canary_cycles
                .get_or_create(&CanaryCycleLabels {
                    exchange: exchange.clone(),
                    result,
                })
                .inc_by(u64::from(counted(status) - before));
        }
        for divergence in &status.divergences {
            let before = previous
                .as_ref()
                .and_then(|p| p.divergences.iter().find(|d| d.field == divergence.field))
                .map_or(0, |d| d.records);
            if divergence.records > before {
                m.plugin_canary_divergent_records
                    .get_or_create(&CanaryFieldLabels {
                        exchange: exchange.clone(),
                        field: divergence.field.clone(),
                    })
                    .inc_by(divergence.records - before);
            }
        }
        self.set_canary_state(&exchange, Some(status.state));
        let was_held = previous.is_some_and(|p| p.state == CanaryState::HeldBack);
        if status.state == CanaryState::HeldBack && !was_held {
            self.publish(
                EventKind::Plugin,
                Severity::Critical,
                Some(&exchange),
                truncate(&canary_held_back_summary(status), MAX_ERROR_TEXT),
            );
        }
    }

    /// The plugin registry's standing: refused files (gauge by reason, status list) and
    /// retired versions (gauges, status; a feed event when they pass the limit).
    fn plugin_registry(&self, summary: &RegistrySummary) {
        let m = &self.inner.metrics;
        for reason in RefusalReason::ALL {
            let n = summary
                .refused
                .iter()
                .filter(|r| r.reason == reason)
                .count();
            m.plugin_files_refused
                .get_or_create(&ReasonLabels {
                    reason: reason.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let retired = RetiredPlugins {
            versions: summary.retired_versions,
            mapped_bytes: summary.retired_mapped_bytes,
            max: summary.max_retired as u64,
        };
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        m.plugins_retired.set(gauge(retired.versions));
        m.plugins_retired_mapped_bytes
            .set(gauge(retired.mapped_bytes));
        m.plugins_retired_max.set(gauge(retired.max));
        let was_over = {
            let mut state = self.state();
            state.plugin_refusals = summary
                .refused
                .iter()
                .map(|r| PluginRefusal {
                    path: r.path.display().to_string(),
                    reason: r.reason.as_str(),
                    message: truncate(&r.message, MAX_ERROR_TEXT),
                })
                .collect();
            let previous = std::mem::replace(&mut state.retired_plugins, retired);
            previous.versions > previous.max
        };
        if retired.versions > retired.max && !was_over {
            self.publish(
                EventKind::Plugin,
                Severity::Warning,
                None,
                retired_summary(&retired),
            );
        }
    }
}

/// The file name of a plugin path, as the status and the feed show it.
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
