//! The Prometheus metrics: every metric family the collector exports, their names, help texts,
//! units and label sets, and the exposition (`/metrics`).
//!
//! Names follow prometheus.io conventions: prefix `futures_collector_`, base units (`_seconds`,
//! `_bytes`), `_total` on counters; process metrics use the standard `process_*` names.
//! Labels are bounded: `exchange` (configured instances), `kind` (the plugin's data kinds),
//! `outcome` (a fixed list), never a symbol.
//!
//! Owns the registry and the text formats. Must not hold collection state: values are fed
//! through the `Telemetry` handle; scrape-time values (ages, health, process) come from
//! collectors registered by the caller.

use std::fmt::Write as _;

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::Histogram,
        info::Info,
    },
    registry::{Registry, Unit},
};

use super::{
    history::LATENCY_BOUNDS_SECONDS, process::ProcessStats, WebRefusal, WebTimeout, WebUnauthorized,
};

/// Prefix of every metric of ours.
pub const METRIC_PREFIX: &str = "futures_collector";

/// Content type of the Prometheus text format (what `promtool` and most scrapers read).
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics text (served when the scraper asks for it).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExchangeLabels {
    pub exchange: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExchangeKindLabels {
    pub exchange: String,
    pub kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub exchange: String,
    pub kind: String,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub exchange: String,
    pub version: String,
}

/// A plugin canary's state (`comparing`, `promoting`, `held_back`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CanaryStateLabels {
    pub exchange: String,
    pub state: &'static str,
}

/// A canary cycle's result (`agreed`, `diverged`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CanaryCycleLabels {
    pub exchange: String,
    pub result: &'static str,
}

/// A record field a canary candidate disagrees on.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CanaryFieldLabels {
    pub exchange: String,
    pub field: String,
}

/// A `reason` label (drops, refusals, time-outs, refused plugin files).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotifierLabels {
    pub notifier: String,
    pub outcome: &'static str,
}

/// Creates the series of every `reason` in `family` (at 0).
fn export_reasons<M, C>(
    family: &Family<ReasonLabels, M, C>,
    reasons: impl IntoIterator<Item = &'static str>,
) where
    C: prometheus_client::metrics::family::MetricConstructor<M>,
{
    for reason in reasons {
        let _ = family.get_or_create(&ReasonLabels { reason });
    }
}

fn duration_histogram() -> Histogram {
    Histogram::new(LATENCY_BOUNDS_SECONDS.iter().copied())
}

type F64Counter = Counter<f64, std::sync::atomic::AtomicU64>;
type F64Gauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Every metric family fed through the `Telemetry` handle.
#[derive(Debug)]
pub struct Metrics {
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Family<ExchangeKindLabels, Histogram, fn() -> Histogram>,
    pub response_bytes: Family<ExchangeKindLabels, Counter>,
    pub retries: Family<ExchangeKindLabels, Counter>,
    pub rate_limit_waits: Family<ExchangeLabels, Counter>,
    pub rate_limit_wait_seconds: Family<ExchangeLabels, F64Counter>,
    pub cycles: Family<ExchangeKindLabels, Counter>,
    pub records_parsed: Family<ExchangeKindLabels, Counter>,
    pub records_suppressed: Family<ExchangeKindLabels, Counter>,
    pub records_sent: Family<ExchangeKindLabels, Counter>,
    pub last_success: Family<ExchangeKindLabels, F64Gauge>,
    pub breaker_state: Family<ExchangeLabels, Gauge>,
    pub breaker_transitions: Family<ExchangeLabels, Counter>,
    pub sink_sent: Counter,
    pub sink_confirmed: Counter,
    pub sink_writes: Counter,
    pub sink_write_retries: Counter,
    pub sink_failed: Counter,
    pub sink_spooled: Counter,
    pub sink_dropped: Family<ReasonLabels, Counter>,
    pub sink_spool_damaged_bytes: Counter,
    pub sink_buffer_depth: Gauge,
    pub sink_spool_records: Gauge,
    pub sink_spool_bytes: Gauge,
    pub config_reloads: Family<ResultLabels, Counter>,
    pub config_last_reload_successful: Gauge,
    pub config_last_reload_timestamp: F64Gauge,
    pub plugins_loaded: Family<PluginLabels, Gauge>,
    pub plugin_load_failures: Counter,
    pub plugin_files_refused: Family<ReasonLabels, Gauge>,
    pub plugins_retired: Gauge,
    pub plugins_retired_mapped_bytes: Gauge,
    pub plugins_retired_max: Gauge,
    pub plugin_canary: Family<CanaryStateLabels, Gauge>,
    pub plugin_canary_cycles: Family<CanaryCycleLabels, Counter>,
    pub plugin_canary_divergent_records: Family<CanaryFieldLabels, Counter>,
    pub alerts_firing: Family<RuleLabels, Gauge>,
    pub alert_notifications: Family<NotifierLabels, Counter>,
    pub web_connections_open: Gauge,
    pub web_connections_refused: Family<ReasonLabels, Counter>,
    pub web_connections_timed_out: Family<ReasonLabels, Counter>,
    pub web_requests_unauthorized: Family<ReasonLabels, Counter>,
}

impl Metrics {
    /// Creates the families and registers them, with `extra` collectors for scrape-time
    /// values, in a registry prefixed `futures_collector`; process metrics go in a second,
    /// unprefixed registry.
    pub fn new(extra: Vec<Box<dyn Collector>>) -> (Self, Registries) {
        let m = Self {
            requests: Family::default(),
            request_duration: Family::new_with_constructor(duration_histogram),
            response_bytes: Family::default(),
            retries: Family::default(),
            rate_limit_waits: Family::default(),
            rate_limit_wait_seconds: Family::default(),
            cycles: Family::default(),
            records_parsed: Family::default(),
            records_suppressed: Family::default(),
            records_sent: Family::default(),
            last_success: Family::default(),
            breaker_state: Family::default(),
            breaker_transitions: Family::default(),
            sink_sent: Counter::default(),
            sink_confirmed: Counter::default(),
            sink_writes: Counter::default(),
            sink_write_retries: Counter::default(),
            sink_failed: Counter::default(),
            sink_spooled: Counter::default(),
            sink_dropped: Family::default(),
            sink_spool_damaged_bytes: Counter::default(),
            sink_buffer_depth: Gauge::default(),
            sink_spool_records: Gauge::default(),
            sink_spool_bytes: Gauge::default(),
            config_reloads: Family::default(),
            config_last_reload_successful: Gauge::default(),
            config_last_reload_timestamp: F64Gauge::default(),
            plugins_loaded: Family::default(),
            plugin_load_failures: Counter::default(),
            plugin_files_refused: Family::default(),
            plugins_retired: Gauge::default(),
            plugins_retired_mapped_bytes: Gauge::default(),
            plugins_retired_max: Gauge::default(),
            plugin_canary: Family::default(),
            plugin_canary_cycles: Family::default(),
            plugin_canary_divergent_records: Family::default(),
            alerts_firing: Family::default(),
            alert_notifications: Family::default(),
            web_connections_open: Gauge::default(),
            web_connections_refused: Family::default(),
            web_connections_timed_out: Family::default(),
            web_requests_unauthorized: Family::default(),
        };
        m.export_every_reason();
        let mut r = Registry::with_prefix(METRIC_PREFIX);
        m.register_collection(&mut r);
        m.register_sink(&mut r);
        m.register_config(&mut r);
        m.register_plugins(&mut r);
        m.register_alerts_and_web(&mut r);
        m.config_last_reload_successful.set(1);
        m.plugins_retired_max
            .set(i64::try_from(crate::config::DEFAULT_MAX_RETIRED_PLUGINS).unwrap_or(i64::MAX));
        for collector in extra {
            r.register_collector(collector);
        }
        let mut process = Registry::default();
        process.register_collector(Box::new(ProcessCollector));
        (m, Registries { main: r, process })
    }

    /// Exports every reason of every reason-labelled family from the start, at 0: an alert
    /// compares with 0 rather than with a missing series, and a rate over a series that
    /// appears only with the first event misses that event.
    fn export_every_reason(&self) {
        export_reasons(
            &self.sink_dropped,
            super::DropReason::ALL.map(|r| r.as_str()),
        );
        export_reasons(
            &self.web_connections_refused,
            WebRefusal::ALL.map(|r| r.as_str()),
        );
        export_reasons(
            &self.web_connections_timed_out,
            WebTimeout::ALL.map(|r| r.as_str()),
        );
        export_reasons(
            &self.web_requests_unauthorized,
            WebUnauthorized::ALL.map(|r| r.as_str()),
        );
        export_reasons(
            &self.plugin_files_refused,
            crate::trust::RefusalReason::ALL.map(|r| r.as_str()),
        );
    }

    /// The build info, and collection: requests, cycles, records, breakers.
    fn register_collection(&self, r: &mut Registry) {
        let m = self;
        r.register(
            "build",
            "Version of the running collector (always 1).",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        r.register(
            "requests",
            "HTTP requests to exchanges by outcome (ok, timeout, connect, body, http_5xx, rate_limited, parse, exchange_error, permanent, held_back, other). held_back: not sent because the breaker is open.",
            m.requests.clone(),
        );
        r.register_with_unit(
            "request_duration",
            "Duration of HTTP requests to exchanges that were sent, whatever their outcome.",
            Unit::Seconds,
            m.request_duration.clone(),
        );
        r.register_with_unit(
            "response",
            "Response body bytes received from exchanges.",
            Unit::Bytes,
            m.response_bytes.clone(),
        );
        r.register(
            "request_retries",
            "Retries of failed requests within a cycle.",
            m.retries.clone(),
        );
        r.register(
            "rate_limit_waits",
            "Times a request waited for the exchange's rate budget.",
            m.rate_limit_waits.clone(),
        );
        r.register_with_unit(
            "rate_limit_wait",
            "Time spent waiting for the exchange's rate budget.",
            Unit::Seconds,
            m.rate_limit_wait_seconds.clone(),
        );
        r.register("cycles", "Collection cycles run.", m.cycles.clone());
        r.register(
            "records_parsed",
            "Records parsed from exchange responses.",
            m.records_parsed.clone(),
        );
        r.register(
            "records_suppressed",
            "Records not sent because they had not changed (change detection).",
            m.records_suppressed.clone(),
        );
        r.register(
            "records_sent",
            "Records handed to the sink.",
            m.records_sent.clone(),
        );
        r.register_with_unit(
            "last_success_timestamp",
            "Unix time of the last cycle that parsed at least one record.",
            Unit::Seconds,
            m.last_success.clone(),
        );
        r.register(
            "breaker_state",
            "Circuit breaker state per exchange: 0 closed, 1 half-open (probing), 2 open.",
            m.breaker_state.clone(),
        );
        r.register(
            "breaker_transitions",
            "Circuit breaker state changes.",
            m.breaker_transitions.clone(),
        );
    }

    /// The sink: records sent, confirmed, failed, spooled, dropped; the spool and buffer.
    fn register_sink(&self, r: &mut Registry) {
        let m = self;
        r.register(
            "sink_records_sent",
            "Records the sink sent to its destination.",
            m.sink_sent.clone(),
        );
        r.register(
            "sink_records_confirmed",
            "Records the destination confirmed (written and flushed, or broker-confirmed).",
            m.sink_confirmed.clone(),
        );
        r.register(
            "sink_writes",
            "Writes the sink task attempted (one batch, or the batches gathered for one write), retries included.",
            m.sink_writes.clone(),
        );
        r.register(
            "sink_write_retries",
            "Writes that repeat one that failed (the destination refused it: full disk, spool not writable); the records wait in memory meanwhile.",
            m.sink_write_retries.clone(),
        );
        r.register(
            "sink_records_failed",
            "Records given up for good: not encodable, unroutable (returned by the broker), or still undelivered when shutdown abandoned them. Retries are not failures.",
            m.sink_failed.clone(),
        );
        r.register(
            "sink_records_spooled",
            "Records written to the on-disk spool while the destination was unreachable.",
            m.sink_spooled.clone(),
        );
        r.register(
            "sink_records_dropped",
            "Records dropped on purpose by a bounded buffer, by reason: buffer_full (the memory buffer of a failing sink was full: oldest batch first), spool_full (evicted from a full AMQP spool: oldest first, or a message larger than the spool), spool_damaged (lost with damaged spool entries).",
            m.sink_dropped.clone(),
        );
        r.register(
            "sink_spool_damaged_bytes",
            "Bytes of damaged AMQP spool data skipped or cut off (torn writes, corruption); the intact entries around them are replayed.",
            m.sink_spool_damaged_bytes.clone(),
        );
        r.register(
            "sink_buffer_depth",
            "Records the sink task holds in memory: the batch being written or retried and those waiting behind a failing sink (bounded by sink.buffer_max_records).",
            m.sink_buffer_depth.clone(),
        );
        r.register(
            "sink_spool_records",
            "Records in the AMQP sink's on-disk spool, waiting for the broker.",
            m.sink_spool_records.clone(),
        );
        r.register(
            "sink_spool_bytes",
            "Bytes of the AMQP sink's spool files.",
            m.sink_spool_bytes.clone(),
        );
    }

    /// Config reloads.
    fn register_config(&self, r: &mut Registry) {
        let m = self;
        r.register(
            "config_reloads",
            "Config reloads by result (ok, invalid, rolled_back).",
            m.config_reloads.clone(),
        );
        r.register(
            "config_last_reload_successful",
            "1 if the last config reload was applied (or none happened yet), 0 if it failed.",
            m.config_last_reload_successful.clone(),
        );
        r.register_with_unit(
            "config_last_reload_timestamp",
            "Unix time of the last config reload attempt.",
            Unit::Seconds,
            m.config_last_reload_timestamp.clone(),
        );
    }

    /// Plugins: loaded, refused, retired, canaries.
    fn register_plugins(&self, r: &mut Registry) {
        let m = self;
        r.register(
            "plugins_loaded",
            "Loaded exchange plugins (1 per exchange id and version).",
            m.plugins_loaded.clone(),
        );
        r.register(
            "plugin_load_failures",
            "Plugin files that could not be loaded.",
            m.plugin_load_failures.clone(),
        );
        r.register(
            "plugin_files_refused",
            "Plugin files (and the plugin directory) refused now, by reason: owner, writable, not_a_file, swapped, pin, duplicate.",
            m.plugin_files_refused.clone(),
        );
        r.register(
            "plugin_canary",
            "A replaced plugin's canary candidate by exchange id and state (comparing, promoting, held_back): 1 for its current state. Absent when no replacement is waiting.",
            m.plugin_canary.clone(),
        );
        r.register(
            "plugin_canary_cycles",
            "Cycles a canary candidate parsed beside the running version, by result (agreed, diverged).",
            m.plugin_canary_cycles.clone(),
        );
        r.register(
            "plugin_canary_divergent_records",
            "Records whose field differed between a canary candidate and the running version (fields the candidate declares changed excluded).",
            m.plugin_canary_divergent_records.clone(),
        );
        r.register(
            "plugins_retired",
            "Retired plugin versions: libraries mapped in this process that serve no exchange (replaced, removed, duplicates). Never unloaded: a restart reclaims them.",
            m.plugins_retired.clone(),
        );
        r.register_with_unit(
            "plugins_retired_mapped",
            "Address space the retired plugin versions map.",
            Unit::Bytes,
            m.plugins_retired_mapped_bytes.clone(),
        );
        r.register(
            "plugins_retired_max",
            "[plugins] max_retired: above it the plugins_retired alert fires.",
            m.plugins_retired_max.clone(),
        );
    }

    /// Alerts and the web server.
    fn register_alerts_and_web(&self, r: &mut Registry) {
        let m = self;
        r.register(
            "alerts_firing",
            "Alerts firing per rule (the collector's own rules, see [alerts]).",
            m.alerts_firing.clone(),
        );
        r.register(
            "alert_notifications",
            "Alert notifications per notifier by outcome (sent, failed, rate_limited, dropped).",
            m.alert_notifications.clone(),
        );
        r.register(
            "web_connections_open",
            "Connections the web server is serving now (at most [web] max_connections).",
            m.web_connections_open.clone(),
        );
        r.register(
            "web_connections_refused",
            "Web clients refused by a limit: connections by reason max_connections (answered 503 and closed), event streams by reason max_sse_clients (503).",
            m.web_connections_refused.clone(),
        );
        r.register(
            "web_connections_timed_out",
            "Web connections closed by a timeout: header_read (no complete request head in time) or idle (keep-alive connection without a request).",
            m.web_connections_timed_out.clone(),
        );
        r.register(
            "web_requests_unauthorized",
            "Web requests answered 401 for want of a valid bearer token: reason missing (none presented) or invalid (a wrong one).",
            m.web_requests_unauthorized.clone(),
        );
    }
}

/// The registries `/metrics` encodes.
#[derive(Debug)]
pub struct Registries {
    main: Registry,
    process: Registry,
}

/// Which text format to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`promtool check metrics` reads it).
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Registries {
    /// The exposition in `format`.
    pub fn render(&self, format: Format) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode_registry(&mut out, &self.main)?;
        prometheus_client::encoding::text::encode_registry(&mut out, &self.process)?;
        match format {
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode_eof(&mut out)?;
                Ok(out)
            }
            Format::Prometheus => Ok(openmetrics_to_prometheus(&out)),
        }
    }
}

/// Rewrites OpenMetrics text (as `prometheus-client` writes it) into the Prometheus text format:
/// a counter family `x` becomes `x_total` in its HELP/TYPE lines (as its samples are named), an
/// info family `x` becomes the gauge `x_info`, `# UNIT` and `# EOF` lines are dropped.
pub fn openmetrics_to_prometheus(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_help: Option<(&str, &str)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            pending_help = Some((name, help));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (name, kind) = match kind {
                "counter" if !name.ends_with("_total") => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "unknown" => (name.to_owned(), "untyped"),
                other => (name.to_owned(), other),
            };
            if let Some((_, help)) = pending_help.take() {
                let _ = writeln!(out, "# HELP {name} {help}");
            }
            let _ = writeln!(out, "# TYPE {name} {kind}");
            continue;
        }
        if let Some((name, help)) = pending_help.take() {
            let _ = writeln!(out, "# HELP {name} {help}");
        }
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Encodes one gauge family computed at scrape time.
pub fn encode_gauge_family<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: &[(L, f64)],
) -> Result<(), std::fmt::Error> {
    if samples.is_empty() {
        return Ok(());
    }
    let gauge = ConstGauge::new(0.0f64);
    let mut family = encoder.encode_descriptor(name, help, unit, gauge.metric_type())?;
    for (labels, value) in samples {
        ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

/// Encodes one unlabelled gauge computed at scrape time.
pub fn encode_gauge_value(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

/// Process metrics under the standard names, read at every scrape.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(s) = ProcessStats::read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu",
            "Total user and system CPU time spent in seconds.",
            Some(&Unit::Seconds),
            cpu.metric_type(),
        )?)?;
        let gauges: [(&str, &str, Option<&Unit>, Option<f64>); 5] = [
            (
                "process_resident_memory",
                "Resident memory size in bytes.",
                Some(&Unit::Bytes),
                Some(s.resident_memory_bytes as f64),
            ),
            (
                "process_virtual_memory",
                "Virtual memory size in bytes.",
                Some(&Unit::Bytes),
                Some(s.virtual_memory_bytes as f64),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                None,
                Some(s.open_fds as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                None,
                s.max_fds.map(|v| v as f64),
            ),
            (
                "process_start_time",
                "Start time of the process since unix epoch in seconds.",
                Some(&Unit::Seconds),
                s.start_time_seconds,
            ),
        ];
        for (name, help, unit, value) in gauges {
            let Some(value) = value else { continue };
            let g = ConstGauge::new(value);
            g.encode(encoder.encode_descriptor(name, help, unit, g.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_openmetrics_names() {
        let om = "# HELP fc_requests Requests.\n# TYPE fc_requests counter\nfc_requests_total{a=\"b\"} 1\n# HELP fc_build Build.\n# TYPE fc_build info\nfc_build_info{version=\"1\"} 1\n# HELP fc_d Duration.\n# TYPE fc_d_seconds histogram\n# UNIT fc_d_seconds seconds\nfc_d_seconds_count 1\n# EOF\n";
        let p = openmetrics_to_prometheus(om);
        assert!(p.contains("# TYPE fc_requests_total counter\n"), "{p}");
        assert!(p.contains("# HELP fc_requests_total Requests.\n"), "{p}");
        assert!(p.contains("# TYPE fc_build_info gauge\n"), "{p}");
        assert!(!p.contains("# UNIT") && !p.contains("# EOF"), "{p}");
    }

    #[test]
    fn web_connection_series_exist_from_the_start_with_every_reason() {
        let (m, r) = Metrics::new(Vec::new());
        let text = r.render(Format::Prometheus).unwrap();
        for series in [
            "futures_collector_web_connections_open 0",
            "futures_collector_web_connections_refused_total{reason=\"max_connections\"} 0",
            "futures_collector_web_connections_refused_total{reason=\"max_sse_clients\"} 0",
            "futures_collector_web_connections_timed_out_total{reason=\"header_read\"} 0",
            "futures_collector_web_connections_timed_out_total{reason=\"idle\"} 0",
            "futures_collector_web_requests_unauthorized_total{reason=\"missing\"} 0",
            "futures_collector_web_requests_unauthorized_total{reason=\"invalid\"} 0",
        ] {
            assert!(
                text.contains(&format!("{series}\n")),
                "{series} missing:\n{text}"
            );
        }
        assert!(text.contains("# TYPE futures_collector_web_connections_refused_total counter"));
        m.web_connections_open.inc();
        let text = r.render(Format::Prometheus).unwrap();
        assert!(text.contains("futures_collector_web_connections_open 1\n"));
    }

    #[test]
    fn renders_both_formats() {
        let (m, r) = Metrics::new(Vec::new());
        m.requests
            .get_or_create(&RequestLabels {
                exchange: "x".into(),
                kind: "tickers".into(),
                outcome: "ok",
            })
            .inc();
        let text = r.render(Format::Prometheus).unwrap();
        assert!(text.contains(
            "futures_collector_requests_total{exchange=\"x\",kind=\"tickers\",outcome=\"ok\"} 1"
        ));
        assert!(text.contains("# TYPE futures_collector_requests_total counter"));
        let om = r.render(Format::OpenMetrics).unwrap();
        assert!(om.ends_with("# EOF\n"));
    }
}
