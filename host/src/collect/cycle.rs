//! One kind's task of one exchange instance: its schedule (interval, back-off after failed
//! cycles, waiting for an open breaker) and its cycle, in named steps: build the requests, send
//! a round, parse it (and let a canary candidate parse it too), account for every answer
//! (breaker, health, metrics, rate-limit slow-down, retries), follow pages, then merge, detect
//! changes and send the batch to the sink.
//!
//! Owns the cycle. Must not let anything of this exchange block another exchange: every wait
//! here is this exchange's own (its budget, its timeouts, its sink back-pressure share).

use crate::observe::telemetry::internal_events::{
    CanaryCycleCompared, CycleFinished, RequestFailed,
};
use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
    time::Duration,
};

use futures_util::future::join_all;
use plugin_api::{
    abi_stable::std_types::{ROption, RSlice, RStr},
    Context, HttpRequest, HttpResponse, IdentityStr, KeyValueRef, ParseOutput, Record, RecordKind,
};
use tokio::sync::watch;

use crate::{
    bench::instruments::{timed, PipelineCpu},
    clock::now_ms,
    collect::http::{ExchangeHttp, RawResponse, TransportError},
    collect::plan::{self, KindDemand},
    observe::telemetry::RequestOutcome,
    output::sink::Batch,
    plugins::{
        canary::{CycleComparison, Verdict},
        Canary, LoadedPlugin,
    },
};

use super::exchange::Shared;

/// A round's requests and the pause between them (`None`: all at once).
struct Round {
    requests: Vec<HttpRequest>,
    pace: Option<Duration>,
}

/// Least cadence a kind runs at, whatever the plan says (guards a division).
const MIN_CADENCE: f64 = 1e-3;

/// Pause before retrying when the breaker is half-open and another kind holds the probe.
const PROBE_BUSY_RETRY: Duration = Duration::from_millis(250);

/// What one cycle achieved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleOutcome {
    /// Records the plugin produced.
    pub records: usize,
    /// Failed requests and rejected responses.
    pub failures: usize,
    /// Requests not sent because the breaker is open or probing.
    pub held_back: usize,
    /// CPU time this cycle spent on its records on the calling thread (not the network, not
    /// the sink), by stage.
    pub pipeline_cpu: PipelineCpu,
}

impl CycleOutcome {
    fn failed_entirely(&self) -> bool {
        self.records == 0 && self.failures > 0
    }
}

pub(super) struct KindTask {
    pub(super) shared: Arc<Shared>,
    pub(super) http: Arc<ExchangeHttp>,
    pub(super) kind: String,
    pub(super) emits: RecordKind,
    pub(super) period: Duration,
    pub(super) wait_for_instruments: bool,
    /// The stop signal of a scheduled task: its rounds are planned against the exchange's
    /// budget and heavy ones paced. `None` when collected on demand (the benchmark measures
    /// rounds sent at once).
    pub(super) stop: Option<watch::Receiver<bool>>,
    /// Plugin warnings already logged at WARN (the same skipped dated contracts every cycle
    /// would otherwise flood the log).
    pub(super) warnings: Arc<std::sync::Mutex<SeenWarnings>>,
}

/// Most distinct warnings remembered per kind; beyond it the set starts over (so a warning
/// is then logged at WARN again, which is fine).
const MAX_REMEMBERED_WARNINGS: usize = 256;

/// Warnings seen, by a hash of their text with digits removed (counts vary between cycles).
#[derive(Default)]
pub(super) struct SeenWarnings {
    seen: HashSet<u64>,
}

impl SeenWarnings {
    fn first_time(&mut self, warning: &str) -> bool {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        warning
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .for_each(|c| c.hash(&mut h));
        if self.seen.len() >= MAX_REMEMBERED_WARNINGS {
            self.seen.clear();
        }
        self.seen.insert(h.finish())
    }
}

/// What a cycle has gathered so far, across its rounds.
#[derive(Default)]
struct CycleRun {
    records: Vec<Record>,
    outcome: CycleOutcome,
    requests_sent: usize,
    /// When the newest response arrived (for the benchmark's response → sink latency).
    newest_response: Option<std::time::Instant>,
    /// A canary candidate's comparison of this cycle's rounds.
    comparison: CycleComparison,
}

/// The outcome of one request, as the breaker and health table count it.
enum Attempt {
    Answered(RawResponse),
    /// Not sent: the collector is stopping in the middle of a paced round.
    Stopped,
    /// Not sent: the breaker is open or another request is probing.
    HeldBack,
    /// No usable response (retries included), after this long.
    Failed(TransportError, Duration),
}

impl KindTask {
    pub(super) async fn run(self, mut stop: watch::Receiver<bool>) {
        if self.wait_for_instruments {
            let mut ready = self.shared.instruments_ready.subscribe();
            tokio::select! {
                _ = stop.changed() => return,
                r = ready.wait_for(|ready| *ready) => if r.is_err() { return },
            }
        }
        let mut next = tokio::time::Instant::now();
        let mut failed_streak = 0u32;
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => return,
                _ = tokio::time::sleep_until(next) => {}
            }
            if *stop.borrow() {
                return;
            }
            let started = tokio::time::Instant::now();
            let outcome = self.cycle().await;
            let now = tokio::time::Instant::now();
            next = if outcome.held_back > 0 && outcome.records == 0 {
                // The breaker holds requests back: come back when it lets the next probe out.
                let open_until = self.shared.breaker().open_until();
                open_until
                    .unwrap_or(now + PROBE_BUSY_RETRY)
                    .max(now + PROBE_BUSY_RETRY)
            } else if outcome.failed_entirely() || self.instruments_missing(&outcome) {
                // Nothing came back: try again soon, never only after a long interval such as
                // the hourly instruments refresh. Bounded by the breaker's cool-down cap so a
                // recovered exchange is noticed as fast as the breaker allows.
                failed_streak = failed_streak.saturating_add(1);
                now + self.failed_cycle_delay(failed_streak)
            } else {
                failed_streak = 0;
                (started + self.effective_period()).max(now)
            };
        }
    }

    /// An instruments round that failed in part (one of Deribit's three settlement currencies,
    /// one of Bitget's product types) leaves those instruments unknown, and every kind that
    /// needs them skips them, until it runs again: it comes back as soon as a failed round
    /// would, not after its (hourly) interval. Other kinds wait for their next cycle: a
    /// per-symbol round with one bad symbol must not repeat at once.
    fn instruments_missing(&self, outcome: &CycleOutcome) -> bool {
        self.emits == RecordKind::INSTRUMENT && outcome.failures > 0
    }

    /// The configured period stretched by the cadence the budget plan gives this kind.
    fn effective_period(&self) -> Duration {
        self.period
            .div_f64(self.shared.cadence(&self.kind).max(MIN_CADENCE))
    }

    /// Notes this round's weight in the exchange's budget plan (scheduled tasks only) and
    /// returns the pause between its requests when the round must be paced.
    fn plan_round(&self, round: &[HttpRequest]) -> Option<Duration> {
        self.stop.as_ref()?;
        let rules = self.http.rule_budgets();
        let requests = round.iter().map(|r| (r.path.as_str(), r.weight));
        let demand = KindDemand::of_round(&self.kind, self.period, &rules, requests);
        // The instruments round is never paced: the other kinds wait for it.
        let gap = plan::pacing(&rules, &demand, self.period, round.len())
            .filter(|_| self.emits != RecordKind::INSTRUMENT);
        let cadence = self.shared.plan_round(&rules, demand).max(MIN_CADENCE);
        gap.map(|g| g.div_f64(cadence))
    }

    /// Waits `delay` before a paced request; false when the collector stops meanwhile.
    async fn paced(&self, delay: Duration) -> bool {
        let Some(mut stop) = self.stop.clone() else {
            return true;
        };
        if *stop.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = stop.changed() => false,
        }
    }

    /// 1×, 2×, 4× … the breaker's first cool-down, capped by its longest and by the period.
    fn failed_cycle_delay(&self, streak: u32) -> Duration {
        let b = &self.shared.spec.breaker;
        b.open_base
            .0
            .saturating_mul(1u32 << streak.saturating_sub(1).min(16))
            .min(b.open_max.0)
            .min(self.period)
    }

    /// Sends one request unless the breaker holds it back.
    async fn execute(&self, request: &HttpRequest) -> Attempt {
        let (allowed, transition) = self.shared.breaker().allow(tokio::time::Instant::now());
        if let Some(t) = transition {
            self.shared.on_transition(t);
        }
        let telemetry = &self.shared.spec.telemetry;
        let exchange = self.shared.spec.instance_id.as_str();
        if !allowed {
            telemetry.request(
                exchange,
                &self.kind,
                RequestOutcome::HeldBack,
                Duration::ZERO,
                0,
            );
            return Attempt::HeldBack;
        }
        let started = tokio::time::Instant::now();
        match self.http.execute(request, &self.kind).await {
            // Reported after `parse`, which may still reject the body.
            Ok(response) => Attempt::Answered(response),
            Err(e) => Attempt::Failed(e, started.elapsed()),
        }
    }

    /// One collection cycle of this kind: its requests, round by round (pages, retries), each
    /// round parsed (and compared by a canary candidate), then merge, change detection and the
    /// sink. Failures are logged here and never propagate.
    pub(super) async fn cycle(&self) -> CycleOutcome {
        let Some(plugin) = self.shared.current_plugin() else {
            return CycleOutcome::default();
        };
        let instruments = Arc::clone(&*self.shared.instruments.read().await);
        let options = self.plugin_options();
        let ctx = Context {
            exchange_id: RStr::from_str(&self.shared.spec.instance_id),
            now_ms: now_ms(),
            instruments: RSlice::from_slice(&instruments),
            options: RSlice::from_slice(&options),
            credentials: ROption::RNone,
        };
        let first_round: Vec<HttpRequest> = match plugin.build_requests(&self.kind, &ctx) {
            Ok(requests) => requests.into_iter().collect(),
            Err(e) => {
                tracing::warn!(exchange = %self.shared.spec.instance_id, kind = %self.kind, error = %e, "plugin could not build requests");
                return CycleOutcome {
                    failures: 1,
                    ..CycleOutcome::default()
                };
            }
        };
        let started = tokio::time::Instant::now();
        // A heavy round is paced but stays one round: the plugin parses a round's answers
        // together (Binance's open interest takes its quote value from the same round's marks).
        let pace = self.plan_round(&first_round);
        let canary = self.shared.canary_for(&plugin, &self.kind);
        let round = Round {
            requests: first_round,
            pace,
        };
        self.collect_and_deliver(&plugin, &ctx, round, canary.as_deref(), started)
            .await
    }

    /// Sends `round` (and its pages and retries), then merges, detects changes and delivers.
    async fn collect_and_deliver(
        &self,
        plugin: &LoadedPlugin,
        ctx: &Context<'_>,
        round: Round,
        canary: Option<&Canary>,
        started: tokio::time::Instant,
    ) -> CycleOutcome {
        let mut run = CycleRun::default();
        self.collect_rounds(plugin, ctx, round, canary, &mut run)
            .await;
        if let Some(canary) = canary.filter(|_| !run.comparison.is_empty()) {
            self.report_canary(canary, std::mem::take(&mut run.comparison));
        }
        self.deliver(plugin, run, started).await
    }

    /// The exchange's `options` from the config, as the plugin receives them.
    fn plugin_options(&self) -> Vec<KeyValueRef<'_>> {
        self.shared
            .spec
            .config
            .options
            .iter()
            .map(|(k, v)| KeyValueRef {
                key: RStr::from_str(k),
                value: RStr::from_str(v),
            })
            .collect()
    }

    /// Sends `round`, parses what was answered, and follows the plugin's next pages and the
    /// retries its errors call for, until nothing is left or `http.max_pages` is reached.
    async fn collect_rounds(
        &self,
        plugin: &LoadedPlugin,
        ctx: &Context<'_>,
        first: Round,
        canary: Option<&Canary>,
        run: &mut CycleRun,
    ) {
        // Retry rounds the plugin's errors (rate-limit or transient codes in a body) asked for.
        let mut plugin_retries = 0u32;
        let mut pages = 0u32;
        let (mut round, mut pace) = (first.requests, first.pace);
        while !round.is_empty() {
            // Pages and retries follow at once: only the first round is paced.
            let answered = self.send_round(&round, pace.take(), run).await;
            if answered.is_empty() {
                break;
            }
            let out = self.parse_round(plugin, ctx, &answered, canary, run);
            let retry = self.account_round(&answered, &out).await;
            for error in out.errors.iter() {
                run.outcome.failures += 1;
                tracing::warn!(exchange = %self.shared.spec.instance_id, kind = %self.kind, error = %error, "response rejected by plugin");
            }
            run.records.extend(out.records);
            round = out.next_requests.into_iter().collect();
            if !retry.is_empty() && plugin_retries < self.shared.spec.http.retries {
                plugin_retries += 1;
                self.wait_before_retry(plugin_retries, retry.len()).await;
                round.extend(retry);
            }
            pages += 1;
            if pages >= self.shared.spec.http.max_pages && !round.is_empty() {
                tracing::warn!(exchange = %self.shared.spec.instance_id, kind = %self.kind, pages, "stopped following pages at http.max_pages");
                run.outcome.failures += 1;
                break;
            }
        }
    }

    /// Sends the requests of a round, at once or `pace` apart; returns the answered ones (held
    /// back and failed requests are counted in `run`).
    async fn send_round<'r>(
        &self,
        round: &'r [HttpRequest],
        pace: Option<Duration>,
        run: &mut CycleRun,
    ) -> Vec<(&'r HttpRequest, RawResponse)> {
        let slots = pace.map(|_| plan::paced_slots(round.iter().map(|r| r.path.as_str())));
        let results = join_all(round.iter().enumerate().map(|(i, r)| {
            let delay = match (pace, &slots) {
                (Some(gap), Some(slots)) => gap * slots[i],
                _ => Duration::ZERO,
            };
            async move {
                if !delay.is_zero() && !self.paced(delay).await {
                    return Attempt::Stopped;
                }
                self.execute(r).await
            }
        }))
        .await;
        let mut answered = Vec::with_capacity(round.len());
        for (request, result) in round.iter().zip(results) {
            match result {
                Attempt::Answered(response) => {
                    run.requests_sent += 1;
                    run.newest_response = run.newest_response.max(Some(response.received_at));
                    answered.push((request, response));
                }
                Attempt::HeldBack => run.outcome.held_back += 1,
                Attempt::Stopped => {}
                Attempt::Failed(e, elapsed) => {
                    run.requests_sent += 1;
                    run.outcome.failures += 1;
                    self.shared.spec.telemetry.emit(RequestFailed {
                        exchange: &self.shared.spec.instance_id,
                        kind: &self.kind,
                        tag: &request.tag,
                        path: &request.path,
                        outcome: e.kind.outcome(),
                        elapsed,
                        error: &e,
                    });
                    if e.class != plugin_api::ErrorClass::PERMANENT {
                        self.shared
                            .record_outcome(false, Some(&format!("{}: {e}", request.path)));
                    }
                }
            }
        }
        answered
    }

    /// The plugin's parse of one round's responses (and the canary candidate's, compared);
    /// logs the plugin's warnings.
    fn parse_round(
        &self,
        plugin: &LoadedPlugin,
        ctx: &Context<'_>,
        answered: &[(&HttpRequest, RawResponse)],
        canary: Option<&Canary>,
        run: &mut CycleRun,
    ) -> ParseOutput {
        let header_refs: Vec<Vec<KeyValueRef<'_>>> = answered
            .iter()
            .map(|(_, r)| {
                r.headers
                    .iter()
                    .map(|(k, v)| KeyValueRef {
                        key: RStr::from_str(k),
                        value: RStr::from_str(v),
                    })
                    .collect()
            })
            .collect();
        let responses: Vec<HttpResponse<'_>> = answered
            .iter()
            .zip(&header_refs)
            .map(|((request, r), headers)| HttpResponse {
                request,
                status: r.status,
                headers: RSlice::from_slice(headers),
                body: RSlice::from_slice(&r.body),
                received_ts: r.received_ts,
            })
            .collect();
        let out = timed(&mut run.outcome.pipeline_cpu.parse, || {
            plugin.parse(&self.kind, &responses, ctx)
        });
        if let Some(canary) = canary {
            // The candidate parses the same responses; only the comparison is kept.
            let shadow = canary.candidate.parse(&self.kind, &responses, ctx);
            run.comparison
                .add_round(&out, &shadow, canary.declared_changes());
        }
        self.log_plugin_warnings(&out);
        out
    }

    fn log_plugin_warnings(&self, out: &ParseOutput) {
        let exchange = self.shared.spec.instance_id.as_str();
        for warning in out.warnings.iter() {
            if self
                .warnings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .first_time(warning.as_str())
            {
                tracing::warn!(exchange = %exchange, kind = %self.kind, warning = %warning, "plugin warning (repeats are logged at debug level)");
            } else {
                tracing::debug!(exchange = %exchange, kind = %self.kind, warning = %warning, "plugin warning");
            }
        }
    }

    /// Counts every answered request for the breaker, the health table and the metrics, by
    /// what the plugin made of it; slows the budget down on a rate-limit code. Returns the
    /// requests worth retrying (rate-limited or transient).
    async fn account_round(
        &self,
        answered: &[(&HttpRequest, RawResponse)],
        out: &ParseOutput,
    ) -> Vec<HttpRequest> {
        let mut retry: Vec<HttpRequest> = Vec::new();
        for (request, response) in answered {
            let errors: Vec<&plugin_api::PluginError> = out
                .errors
                .iter()
                .filter(|e| e.request_tag == request.tag)
                .collect();
            // Exchange health counts what the exchange did: a rate-limit or server-busy code or
            // garbage is a failure; a permanent error (bad symbol) or a plugin panic is not the
            // exchange being down.
            let unhealthy = errors.iter().find(|e| {
                matches!(
                    e.class,
                    plugin_api::ErrorClass::TRANSIENT
                        | plugin_api::ErrorClass::RATE_LIMITED
                        | plugin_api::ErrorClass::PARSE
                )
            });
            match unhealthy {
                Some(e) => self.shared.record_outcome(false, Some(&e.to_string())),
                None => self.shared.record_outcome(true, None),
            }
            let reported = match errors.first() {
                Some(e) => RequestOutcome::from_plugin_error(e.class),
                None => RequestOutcome::Ok,
            };
            self.shared.spec.telemetry.request(
                &self.shared.spec.instance_id,
                &self.kind,
                reported,
                response.elapsed,
                response.body.len() as u64,
            );
            for e in errors {
                if e.class == plugin_api::ErrorClass::RATE_LIMITED {
                    let wait = e.retry_after_ms.into_option().map(Duration::from_millis);
                    self.http.slow_down(&request.path, wait).await;
                }
                if matches!(
                    e.class,
                    plugin_api::ErrorClass::RATE_LIMITED | plugin_api::ErrorClass::TRANSIENT
                ) && !retry.iter().any(|r| r.tag == request.tag)
                {
                    retry.push((*request).clone());
                }
            }
        }
        retry
    }

    /// Counts `requests` retries and waits the backoff of retry round `attempt` (from 1).
    async fn wait_before_retry(&self, attempt: u32, requests: usize) {
        for _ in 0..requests {
            self.shared
                .spec
                .telemetry
                .retry(&self.shared.spec.instance_id, &self.kind);
        }
        let delay = crate::collect::http::backoff_delay(
            attempt - 1,
            self.shared.spec.http.backoff_base.0,
            self.shared.spec.http.backoff_cap.0,
        );
        tokio::time::sleep(delay).await;
    }

    /// After the rounds: the instrument snapshot (instruments kind), merge into the record
    /// store, change detection, telemetry and the sink.
    async fn deliver(
        &self,
        plugin: &LoadedPlugin,
        run: CycleRun,
        started: tokio::time::Instant,
    ) -> CycleOutcome {
        let exchange = self.shared.spec.instance_id.as_str();
        let CycleRun {
            records,
            mut outcome,
            requests_sent,
            newest_response,
            ..
        } = run;
        let parsed = records.len();
        outcome.records = parsed;
        if self.emits == RecordKind::INSTRUMENT {
            self.update_instruments(&records, outcome.failures == 0 && outcome.held_back == 0)
                .await;
        }
        let default_interval = plugin.info.default_funding_interval_hours;
        let merged = {
            let mut store = self.shared.store.lock().await;
            timed(&mut outcome.pipeline_cpu.merge, || {
                store.apply(records, exchange, default_interval)
            })
        };
        let telemetry = &self.shared.spec.telemetry;
        if self.emits == RecordKind::FUNDING {
            // Before change detection: unchanged rates stay in the dashboard's table.
            telemetry.funding(exchange, &merged);
        }
        let newest_exchange_ts = merged
            .iter()
            .filter_map(|r| r.exchange_ts.into_option())
            .max();
        let (to_send, suppressed) = self.detect_changes(merged, &mut outcome).await;
        telemetry.emit(CycleFinished {
            exchange,
            kind: &self.kind,
            requests: requests_sent,
            held_back: outcome.held_back,
            failures: outcome.failures,
            parsed,
            suppressed,
            sent: to_send.len(),
            newest_exchange_ts,
            elapsed: started.elapsed(),
        });
        self.send_to_sink(to_send, newest_response).await;
        outcome
    }

    /// The records to send (changed, or due for a heartbeat) and how many were suppressed.
    async fn detect_changes(
        &self,
        merged: Vec<Record>,
        outcome: &mut CycleOutcome,
    ) -> (Vec<Record>, usize) {
        if !self.shared.spec.change_detection.enabled {
            return (merged, 0);
        }
        let mut changes = self.shared.changes.lock().await;
        let now = tokio::time::Instant::now();
        let (kept, stats) = timed(&mut outcome.pipeline_cpu.change_detection, || {
            changes.filter(merged, now)
        });
        drop(changes);
        tracing::debug!(exchange = %self.shared.spec.instance_id, kind = %self.kind, changed = stats.changed, heartbeats = stats.heartbeats, suppressed = stats.suppressed, "change detection");
        (kept, stats.suppressed)
    }

    async fn send_to_sink(
        &self,
        records: Vec<Record>,
        newest_response: Option<std::time::Instant>,
    ) {
        if records.is_empty() {
            return;
        }
        let exchange = self.shared.spec.instance_id.as_str();
        let batch = Batch {
            exchange: exchange.to_owned(),
            kind: self.kind.clone(),
            records,
        };
        if let (Some(clock), Some(at)) = (self.shared.response_clock.get(), newest_response) {
            clock.note(exchange, &self.kind, at);
        }
        if self.shared.sink.send(batch).await.is_err() {
            tracing::error!(exchange = %exchange, kind = %self.kind, "sink is gone; records of this cycle lost");
        }
    }

    /// Counts a compared cycle in the canary and reports its standing.
    fn report_canary(&self, canary: &Canary, comparison: CycleComparison) {
        let exchange = self.shared.spec.instance_id.as_str();
        let verdict = canary.observe(exchange, &self.kind, comparison);
        let status = canary.status();
        self.shared.spec.telemetry.emit(CanaryCycleCompared {
            kind: &self.kind,
            status: &status,
            verdict,
        });
        if verdict == Verdict::Promote {
            canary.request_promotion();
        }
    }

    /// Replaces the instrument snapshot after a complete cycle; after a partial one, only adds
    /// and updates (a failed page must not delist half the universe). A complete cycle also
    /// forgets the latest values and hashes of instruments that left the universe.
    async fn update_instruments(&self, records: &[Record], complete: bool) {
        if records.is_empty() {
            return;
        }
        let exchange = self.shared.spec.instance_id.as_str();
        let mut by_symbol: BTreeMap<IdentityStr, Record> = if complete {
            BTreeMap::new()
        } else {
            self.shared
                .instruments
                .read()
                .await
                .iter()
                .map(|r| (r.raw_symbol.clone(), r.clone()))
                .collect()
        };
        for r in records.iter().filter(|r| r.kind == RecordKind::INSTRUMENT) {
            let mut r = r.clone();
            r.exchange = exchange.into();
            by_symbol.insert(r.raw_symbol.clone(), r);
        }
        // Sorted by raw symbol, as `Context::instruments` promises.
        let next: Vec<Record> = by_symbol.into_values().collect();
        let count = next.len();
        if complete {
            let keep: HashSet<&str> = next.iter().map(|r| r.raw_symbol.as_str()).collect();
            self.shared.store.lock().await.retain_symbols(&keep);
            self.shared.changes.lock().await.retain_symbols(&keep);
        }
        *self.shared.instruments.write().await = Arc::new(next);
        let first = !*self.shared.instruments_ready.borrow();
        self.shared.instruments_ready.send_replace(true);
        if first {
            tracing::info!(exchange = %exchange, instruments = count, "instruments loaded");
        }
    }
}
