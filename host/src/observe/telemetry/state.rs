//! The handle's mutable state behind one short lock: per exchange and kind, the sink, config,
//! plugins, alerts, the history and the funding table.
//!
//! Owns what is remembered between reports. Must not do I/O or hold the lock across a wait.

use std::{collections::BTreeMap, net::SocketAddr, sync::Mutex, sync::MutexGuard};

use crate::{
    observe::health::BreakerState, observe::health::HealthStatus, observe::health::HealthTable,
};

use super::{
    funding::FundingTable, history::History, plugin_vocabulary::CanaryStatus, status::ActiveAlert,
    status::Check, status::ConfigStatus, status::NotifierInfo, status::PluginRefusal,
    status::PluginStatus, status::Readiness, status::RetiredPlugins, status::SinkStatus,
    vocabulary::BudgetPlan, vocabulary::DropReason, vocabulary::SinkState, MAX_TRACKED_EXCHANGES,
};

#[derive(Debug, Default)]
pub(super) struct KindState {
    pub(super) cycles: u64,
    pub(super) last_success_ms: Option<i64>,
    pub(super) newest_data_ms: Option<i64>,
    pub(super) parsed_total: u64,
    pub(super) suppressed_total: u64,
    pub(super) sent_total: u64,
}

#[derive(Debug)]
pub(super) struct ExchangeState {
    pub(super) first_seen_ms: i64,
    pub(super) plugin_id: Option<String>,
    pub(super) worker_started_ms: Option<i64>,
    pub(super) worker_starts: u64,
    pub(super) history: History,
    pub(super) kinds: BTreeMap<String, KindState>,
    pub(super) breaker: BreakerState,
    pub(super) breaker_since_ms: Option<i64>,
    /// The rate budget plan the worker last computed.
    pub(super) budget_plan: Option<BudgetPlan>,
}

impl ExchangeState {
    pub(super) fn new(now_ms: i64) -> Self {
        Self {
            first_seen_ms: now_ms,
            plugin_id: None,
            worker_started_ms: None,
            worker_starts: 0,
            history: History::default(),
            kinds: BTreeMap::new(),
            breaker: BreakerState::Closed,
            breaker_since_ms: None,
            budget_plan: None,
        }
    }
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) exchanges: BTreeMap<String, ExchangeState>,
    pub(super) funding: FundingTable,
    pub(super) sink: SinkStatus,
    pub(super) config: ConfigStatus,
    /// By plugin exchange id.
    pub(super) plugins: BTreeMap<String, PluginStatus>,
    pub(super) plugin_refusals: Vec<PluginRefusal>,
    pub(super) retired_plugins: RetiredPlugins,
    pub(super) plugin_canaries: BTreeMap<String, CanaryStatus>,
    /// Candidates (by generation) decided or superseded lately: late reports are ignored.
    pub(super) ended_canaries: std::collections::VecDeque<u64>,
    pub(super) alerts: Vec<ActiveAlert>,
    pub(super) notifiers: Vec<NotifierInfo>,
    pub(super) web_addr: Option<SocketAddr>,
}

impl State {
    pub(super) fn new(now_ms: i64) -> Self {
        Self {
            exchanges: BTreeMap::new(),
            funding: FundingTable::default(),
            sink: SinkStatus {
                state: SinkState::Starting,
                since_ms: now_ms,
                detail: String::new(),
                sent: 0,
                confirmed: 0,
                writes: 0,
                retries: 0,
                failed: 0,
                spooled: 0,
                dropped: 0,
                dropped_by_reason: DropReason::ALL.iter().map(|r| (r.as_str(), 0)).collect(),
                buffer_depth: 0,
                spool_records: 0,
                spool_bytes: 0,
            },
            config: ConfigStatus::default(),
            plugins: BTreeMap::new(),
            plugin_canaries: BTreeMap::new(),
            ended_canaries: std::collections::VecDeque::new(),
            plugin_refusals: Vec::new(),
            retired_plugins: RetiredPlugins {
                max: crate::config::DEFAULT_MAX_RETIRED_PLUGINS as u64,
                ..RetiredPlugins::default()
            },
            alerts: Vec::new(),
            notifiers: Vec::new(),
            web_addr: None,
        }
    }

    /// The exchange's state, created on first mention (up to [`MAX_TRACKED_EXCHANGES`]).
    pub(super) fn exchange(&mut self, exchange: &str, now_ms: i64) -> Option<&mut ExchangeState> {
        if !self.exchanges.contains_key(exchange) {
            if self.exchanges.len() >= MAX_TRACKED_EXCHANGES {
                return None;
            }
            self.exchanges
                .insert(exchange.to_owned(), ExchangeState::new(now_ms));
        }
        self.exchanges.get_mut(exchange)
    }
}

/// What the scrape-time collector and the handle share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) health: HealthTable,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn readiness(&self, state: &State) -> Readiness {
        let config = Check {
            ok: state.config.loaded,
            detail: match &state.config.version {
                Some(v) if state.config.loaded => format!("config {v} loaded"),
                _ if state.config.loaded => "config loaded".to_owned(),
                _ => "no config loaded yet".to_owned(),
            },
        };
        let sink = Check {
            ok: state.sink.state == SinkState::Ok,
            detail: if state.sink.detail.is_empty() {
                format!("sink {}", state.sink.state.as_str())
            } else {
                format!("sink {}: {}", state.sink.state.as_str(), state.sink.detail)
            },
        };
        let health = self.health.snapshot();
        let healthy = health
            .values()
            .filter(|h| h.status == HealthStatus::Healthy)
            .count();
        let known = health.len().max(state.exchanges.len());
        let exchanges = Check {
            ok: healthy > 0,
            detail: format!("{healthy} of {known} exchanges healthy"),
        };
        Readiness {
            ready: config.ok && sink.ok && exchanges.ok,
            config,
            sink,
            exchanges,
        }
    }
}

pub(super) fn age_seconds(now_ms: i64, then_ms: Option<i64>) -> Option<f64> {
    then_ms.map(|t| ((now_ms - t).max(0)) as f64 / 1000.0)
}
