//! The shadow canary of a replaced plugin: the new version (the candidate) parses the very
//! responses the running version parses, their records are compared field by field, and the
//! verdict decides whether the candidate goes live (promoted) or is held back.
//!
//! Owns the comparison of two parse outputs, the tally per (exchange instance, kind), the
//! verdict and the canary's status as the status API shows it. Must not send requests, publish
//! records or change the plugin set: promotion is a [`RegistryCommand`] to the registry, which
//! alone changes the set; logging and counting are the worker's and telemetry's.
//!
//! The rules:
//! - every kind an exchange instance runs with an interval up to
//!   `[plugins] canary_max_kind_interval` must agree for `[plugins] canary_cycles` cycles (kinds
//!   polled more rarely are compared when they run, but not waited for, unless all are);
//! - a cycle agrees when both versions produce the same records (same instruments, every field
//!   equal; fields the candidate declares changed in its info `extra` key
//!   [`DECLARED_CHANGES_KEY`] may differ) and the candidate reports no error the running version
//!   did not (a panic is an error of class `PLUGIN_PANIC`);
//! - the first cycle that does not agree holds the candidate back: comparisons stop and the
//!   evidence stays in the status until an operator promotes or rejects it, or the file changes.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use plugin_api::{ParseOutput, PluginError, Record};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::LoadedPlugin;
pub use crate::observe::telemetry::plugin_vocabulary::{
    CanaryState, CanaryStatus, Decider, FieldDivergence, FieldExample, KindProgress, SymbolList,
    Verdict,
};
use crate::output::message::RecordMessage;

/// Key of the candidate's `PluginInfo::extra` listing the record fields it changes on purpose
/// (comma-separated, as in the published records: `mark,volume_24h_quote`); differences in
/// them are shown but do not hold it back.
pub const DECLARED_CHANGES_KEY: &str = "canary_changed_fields";

/// Examples kept per divergent field, per symbol list and of new errors.
pub const MAX_EXAMPLES: usize = 3;
/// Distinct symbols remembered per divergent field (the count is exact below it).
const MAX_TRACKED_SYMBOLS: usize = 100_000;

/// How a registry runs canaries (`[plugins] canary_cycles` and `canary_max_kind_interval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanarySettings {
    /// Agreeing cycles each required kind needs; 0 promotes a replacement at once.
    pub cycles: u32,
    /// Kinds polled more rarely than this are not waited for.
    pub max_kind_interval: Duration,
}

/// What the registry is asked to do with a candidate. `reply` answers an operator.
#[derive(Debug)]
pub enum RegistryCommand {
    Promote {
        exchange_id: String,
        /// The candidate the verdict is about; `None`: whatever candidate is current.
        generation: Option<u64>,
        by: Decider,
        reply: Option<oneshot::Sender<Result<String, String>>>,
    },
    Reject {
        exchange_id: String,
        by: Decider,
        reply: Option<oneshot::Sender<Result<String, String>>>,
    },
}

/// A candidate and its comparison so far. Shared by the registry (which owns its fate) and
/// the workers (which feed it).
#[derive(Debug)]
pub struct Canary {
    pub candidate: Arc<LoadedPlugin>,
    /// The running version it is compared with.
    pub active_generation: u64,
    active_version: String,
    settings: CanarySettings,
    declared: BTreeSet<String>,
    started_ms: i64,
    commands: mpsc::UnboundedSender<RegistryCommand>,
    tally: Mutex<Tally>,
}

/// One (exchange instance, kind) the canary follows.
#[derive(Debug, Clone, Default)]
struct KindTally {
    /// The instance collects this kind (it has an interval).
    running: bool,
    /// The kind must agree `cycles` times before promotion.
    required: bool,
    agreed: u32,
    diverged: u32,
}

#[derive(Debug, Default)]
struct Tally {
    state: CanaryState,
    kinds: BTreeMap<(String, String), KindTally>,
    records_compared: u64,
    fields: BTreeMap<String, FieldTally>,
    declared: BTreeMap<String, FieldTally>,
    missing: SymbolTally,
    added: SymbolTally,
    new_errors: u64,
    error_examples: Vec<String>,
    reason: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct FieldTally {
    symbols: BTreeSet<String>,
    records: u64,
    examples: Vec<FieldExample>,
}

#[derive(Debug, Default, Clone)]
struct SymbolTally {
    symbols: BTreeSet<String>,
}

impl SymbolTally {
    fn add(&mut self, symbol: &str) {
        if self.symbols.len() < MAX_TRACKED_SYMBOLS {
            self.symbols.insert(symbol.to_owned());
        }
    }

    fn status(&self) -> SymbolList {
        SymbolList {
            count: self.symbols.len() as u64,
            examples: self.symbols.iter().take(MAX_EXAMPLES).cloned().collect(),
        }
    }
}

impl Canary {
    pub(crate) fn new(
        candidate: Arc<LoadedPlugin>,
        active: &LoadedPlugin,
        settings: CanarySettings,
        started_ms: i64,
        commands: mpsc::UnboundedSender<RegistryCommand>,
    ) -> Self {
        let declared = candidate
            .info
            .extra
            .iter()
            .filter(|kv| kv.key.as_str() == DECLARED_CHANGES_KEY)
            .flat_map(|kv| kv.value.as_str().split(','))
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect();
        Self {
            candidate,
            active_generation: active.generation,
            active_version: active.info.plugin_version.to_string(),
            settings,
            declared,
            started_ms,
            commands,
            tally: Mutex::new(Tally::default()),
        }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn exchange_id(&self) -> &str {
        self.candidate.exchange_id()
    }

    pub fn state(&self) -> CanaryState {
        self.tally().state
    }

    /// True while cycles of `kind` should be parsed by the candidate too.
    pub fn compares(&self, kind: &str) -> bool {
        self.state() == CanaryState::Comparing
            && self
                .candidate
                .info
                .kinds
                .iter()
                .any(|k| k.name.as_str() == kind)
    }

    /// The kinds `exchange` (an instance using this plugin) runs, with their intervals
    /// (`None`: off). A kind the candidate lacks holds it back at once.
    pub fn enlist(&self, exchange: &str, kinds: &[(String, Option<Duration>)]) {
        let candidate_kinds: Vec<&str> = self
            .candidate
            .info
            .kinds
            .iter()
            .map(|k| k.name.as_str())
            .collect();
        self.tally().enlist(
            exchange,
            kinds,
            &candidate_kinds,
            self.settings.max_kind_interval,
        );
    }

    /// Counts one cycle of `kind` on `exchange`. After [`Verdict::Promote`] the caller reports
    /// the final standing, then calls [`Canary::request_promotion`].
    pub fn observe(&self, exchange: &str, kind: &str, cycle: CycleComparison) -> Verdict {
        self.tally()
            .observe(exchange, kind, cycle, self.settings.cycles)
    }

    /// Asks the registry to make this candidate serve (after a [`Verdict::Promote`]).
    pub fn request_promotion(&self) {
        let _ = self.commands.send(RegistryCommand::Promote {
            exchange_id: self.exchange_id().to_owned(),
            generation: Some(self.candidate.generation),
            by: Decider::Canary,
            reply: None,
        });
    }

    /// Fields the candidate declares it changes on purpose.
    pub fn declared_changes(&self) -> &BTreeSet<String> {
        &self.declared
    }

    pub fn status(&self) -> CanaryStatus {
        let tally = self.tally();
        let fields = |map: &BTreeMap<String, FieldTally>| {
            map.iter()
                .map(|(field, t)| FieldDivergence {
                    field: field.clone(),
                    instruments: t.symbols.len() as u64,
                    records: t.records,
                    examples: t.examples.clone(),
                })
                .collect()
        };
        let file = self
            .candidate
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        CanaryStatus {
            state: tally.state,
            kinds: tally
                .kinds
                .iter()
                .map(|((exchange, kind), t)| KindProgress {
                    exchange: exchange.clone(),
                    kind: kind.clone(),
                    required: t.required,
                    agreed: t.agreed,
                    diverged: t.diverged,
                })
                .collect(),
            records_compared: tally.records_compared,
            divergences: fields(&tally.fields),
            declared_changes: fields(&tally.declared),
            missing_instruments: tally.missing.status(),
            added_instruments: tally.added.status(),
            new_errors: tally.new_errors,
            error_examples: tally.error_examples.clone(),
            reason: tally.reason.clone(),
            ..CanaryStatus::new(
                self.exchange_id(),
                self.candidate.generation,
                &file,
                self.candidate.info.plugin_version.as_str(),
                &self.active_version,
                self.settings.cycles,
                self.started_ms,
            )
        }
    }

    /// `event` about this candidate, for logs and telemetry.
    pub(crate) fn event(&self, event: super::CanaryEvent) -> super::PluginEvent {
        super::PluginEvent::Canary {
            exchange_id: self.exchange_id().to_owned(),
            file: self.candidate.source.clone(),
            version: self.candidate.info.plugin_version.to_string(),
            generation: self.candidate.generation,
            event,
        }
    }
}

impl Tally {
    fn enlist(
        &mut self,
        exchange: &str,
        kinds: &[(String, Option<Duration>)],
        candidate_kinds: &[&str],
        max_kind_interval: Duration,
    ) {
        let missing: Vec<&str> = kinds
            .iter()
            .filter(|(kind, interval)| {
                interval.is_some() && !candidate_kinds.contains(&kind.as_str())
            })
            .map(|(kind, _)| kind.as_str())
            .collect();
        for (kind, interval) in kinds {
            let entry = self
                .kinds
                .entry((exchange.to_owned(), kind.clone()))
                .or_default();
            entry.running = interval.is_some();
            entry.required = interval.is_some_and(|i| i <= max_kind_interval);
        }
        if !missing.is_empty() && self.state == CanaryState::Comparing {
            self.state = CanaryState::HeldBack;
            self.reason = Some(format!(
                "the new version has no kind {} that {exchange} collects",
                missing.join(", ")
            ));
        }
    }

    fn observe(
        &mut self,
        exchange: &str,
        kind: &str,
        cycle: CycleComparison,
        cycles: u32,
    ) -> Verdict {
        if self.state != CanaryState::Comparing {
            return Verdict::Ignored;
        }
        self.records_compared += cycle.records_compared;
        let agrees = cycle.agrees();
        let entry = self
            .kinds
            .entry((exchange.to_owned(), kind.to_owned()))
            .or_default();
        if agrees {
            entry.agreed += 1;
        } else {
            entry.diverged += 1;
        }
        let reason = cycle.reason();
        self.absorb(cycle);
        if !agrees {
            self.state = CanaryState::HeldBack;
            self.reason = Some(format!("{exchange} {kind}: {reason}"));
            Verdict::HoldBack
        } else if self.complete(cycles) {
            self.state = CanaryState::Promoting;
            Verdict::Promote
        } else {
            Verdict::Continue
        }
    }

    /// Every required kind agreed `cycles` times; when every kind is slow (none is
    /// required), every running kind. False while no kind is enlisted.
    fn complete(&self, cycles: u32) -> bool {
        let any_required = self.kinds.values().any(|k| k.required);
        let waited_for = |k: &&KindTally| if any_required { k.required } else { k.running };
        self.kinds.values().any(|k| k.running)
            && self
                .kinds
                .values()
                .filter(waited_for)
                .all(|k| k.agreed >= cycles)
    }

    fn absorb(&mut self, cycle: CycleComparison) {
        for (target, source) in [
            (&mut self.fields, cycle.fields),
            (&mut self.declared, cycle.declared),
        ] {
            for (field, t) in source {
                let into = target.entry(field).or_default();
                into.records += t.records;
                for s in t.symbols {
                    if into.symbols.len() < MAX_TRACKED_SYMBOLS {
                        into.symbols.insert(s);
                    }
                }
                for e in t.examples {
                    if into.examples.len() < MAX_EXAMPLES {
                        into.examples.push(e);
                    }
                }
            }
        }
        for s in &cycle.missing.symbols {
            self.missing.add(s);
        }
        for s in &cycle.added.symbols {
            self.added.add(s);
        }
        self.new_errors += cycle.new_errors;
        for e in cycle.error_examples {
            if self.error_examples.len() < MAX_EXAMPLES {
                self.error_examples.push(e);
            }
        }
    }
}

/// The comparison of one cycle (every round of it) of one kind.
#[derive(Debug, Default)]
pub struct CycleComparison {
    records_compared: u64,
    fields: BTreeMap<String, FieldTally>,
    declared: BTreeMap<String, FieldTally>,
    missing: SymbolTally,
    added: SymbolTally,
    new_errors: u64,
    error_examples: Vec<String>,
    rounds: u32,
}

impl CycleComparison {
    /// True when at least one round was compared.
    pub fn is_empty(&self) -> bool {
        self.rounds == 0
    }

    pub fn agrees(&self) -> bool {
        self.fields.is_empty()
            && self.missing.symbols.is_empty()
            && self.added.symbols.is_empty()
            && self.new_errors == 0
    }

    /// The disagreement in one line (empty when it agrees).
    pub fn reason(&self) -> String {
        let mut parts = Vec::new();
        for (field, t) in &self.fields {
            let example = t
                .examples
                .first()
                .map(|e| format!(", e.g. {} {} → {}", e.raw_symbol, e.active, e.candidate))
                .unwrap_or_default();
            parts.push(format!(
                "field {field} differs on {} instruments{example}",
                t.symbols.len()
            ));
        }
        if !self.missing.symbols.is_empty() {
            parts.push(format!(
                "{} instruments missing in the new version",
                self.missing.symbols.len()
            ));
        }
        if !self.added.symbols.is_empty() {
            parts.push(format!(
                "{} instruments only in the new version",
                self.added.symbols.len()
            ));
        }
        if self.new_errors > 0 {
            let example = self
                .error_examples
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            parts.push(format!("{} new errors{example}", self.new_errors));
        }
        parts.join("; ")
    }

    /// Compares the running version's output of one round with the candidate's, for the
    /// same responses. `declared`: fields the candidate changes on purpose.
    pub fn add_round(
        &mut self,
        active: &ParseOutput,
        candidate: &ParseOutput,
        declared: &BTreeSet<String>,
    ) {
        self.rounds += 1;
        self.compare_records(&active.records, &candidate.records, declared);
        self.compare_errors(&active.errors, &candidate.errors);
    }

    fn compare_records(
        &mut self,
        active: &[Record],
        candidate: &[Record],
        declared: &BTreeSet<String>,
    ) {
        let active = by_identity(active);
        let mut candidate = by_identity(candidate);
        for (key, active_values) in active {
            let Some(candidate_values) = candidate.remove(&key) else {
                self.missing.add(&key.1);
                continue;
            };
            let (kind, raw_symbol) = key;
            for (a, c) in active_values.iter().zip(&candidate_values) {
                self.records_compared += 1;
                for (field, av, cv) in differences(a, c) {
                    let target = if declared.contains(&field) {
                        &mut self.declared
                    } else {
                        &mut self.fields
                    };
                    let t = target.entry(field).or_default();
                    t.records += 1;
                    if t.symbols.len() < MAX_TRACKED_SYMBOLS {
                        t.symbols.insert(raw_symbol.clone());
                    }
                    if t.examples.len() < MAX_EXAMPLES {
                        t.examples.push(FieldExample {
                            kind: kind.clone(),
                            raw_symbol: raw_symbol.clone(),
                            active: av,
                            candidate: cv,
                        });
                    }
                }
            }
            // More records for one instrument on one side: count as missing or added.
            if active_values.len() > candidate_values.len() {
                self.missing.add(&raw_symbol);
            } else if candidate_values.len() > active_values.len() {
                self.added.add(&raw_symbol);
            }
        }
        for (_, raw_symbol) in candidate.into_keys() {
            self.added.add(&raw_symbol);
        }
    }

    /// Errors the candidate reports that the running version does not, by (request, class).
    fn compare_errors(&mut self, active: &[PluginError], candidate: &[PluginError]) {
        let mut known: BTreeMap<(String, u8), usize> = BTreeMap::new();
        for e in active {
            *known
                .entry((e.request_tag.to_string(), e.class.0))
                .or_default() += 1;
        }
        for e in candidate {
            let key = (e.request_tag.to_string(), e.class.0);
            match known.get_mut(&key) {
                Some(n) if *n > 0 => *n -= 1,
                _ => {
                    self.new_errors += 1;
                    if self.error_examples.len() < MAX_EXAMPLES {
                        self.error_examples.push(e.to_string());
                    }
                }
            }
        }
    }
}

/// A record's published fields as JSON, by (kind, raw symbol), in output order.
fn by_identity(records: &[Record]) -> BTreeMap<(String, String), Vec<Value>> {
    let mut map: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for r in records {
        let value = match RecordMessage::from_record(r) {
            Ok(message) => serde_json::to_value(&message).unwrap_or(Value::Null),
            // A kind or enum value this host cannot publish: compared by what it says.
            Err(e) => Value::String(format!("unpublishable: {} = {}", e.field, e.value)),
        };
        let kind = r
            .kind
            .as_str()
            .map_or_else(|| format!("kind {}", r.kind.0), str::to_owned);
        map.entry((kind, r.raw_symbol.to_string()))
            .or_default()
            .push(value);
    }
    map
}

/// The fields whose values differ, as (field, running value, candidate value); `extra` keys
/// one by one as `extra.<key>`. A side that is not an object counts as an empty one.
fn differences(active: &Value, candidate: &Value) -> Vec<(String, Value, Value)> {
    let empty = serde_json::Map::new();
    let a = active.as_object().unwrap_or(&empty);
    let c = candidate.as_object().unwrap_or(&empty);
    let mut out = Vec::new();
    let keys: BTreeSet<&String> = a.keys().chain(c.keys()).collect();
    for key in keys {
        let av = a.get(key).cloned().unwrap_or(Value::Null);
        let cv = c.get(key).cloned().unwrap_or(Value::Null);
        if av == cv {
            continue;
        }
        if key == "extra" {
            for (sub, sav, scv) in differences(&av, &cv) {
                out.push((format!("extra.{sub}"), sav, scv));
            }
        } else {
            out.push((key.clone(), av, cv));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use plugin_api::{abi_stable::std_types::RSome, ErrorClass, KeyValue, MarketType, RecordKind};

    use super::*;

    fn ticker(symbol: &str, mark: Option<f64>) -> Record {
        let mut r = Record::new(
            RecordKind::TICKER,
            "binance",
            symbol,
            "BTC",
            "USDT",
            "USDT",
            MarketType::LINEAR_PERPETUAL,
            1_700_000_000_000,
        );
        r.mark = mark.into();
        r.last = RSome(100.0);
        r
    }

    fn output(records: Vec<Record>, errors: Vec<PluginError>) -> ParseOutput {
        ParseOutput {
            records: records.into(),
            errors: errors.into(),
            ..ParseOutput::default()
        }
    }

    #[test]
    fn a_cycle_is_compared_field_by_field() {
        struct Case {
            name: &'static str,
            active: Vec<Record>,
            candidate: Vec<Record>,
            declared: &'static [&'static str],
            agrees: bool,
            fields: &'static [&'static str],
            declared_fields: &'static [&'static str],
            missing: u64,
            added: u64,
        }
        let with_extra = |mut r: Record, key: &str, value: &str| {
            r.extra.push(KeyValue::new(key, value));
            r
        };
        let cases = [
            Case {
                name: "identical output agrees",
                active: vec![ticker("BTCUSDT", Some(1.0)), ticker("ETHUSDT", None)],
                candidate: vec![ticker("ETHUSDT", None), ticker("BTCUSDT", Some(1.0))],
                declared: &[],
                agrees: true,
                fields: &[],
                declared_fields: &[],
                missing: 0,
                added: 0,
            },
            Case {
                name: "a scaled field is named",
                active: vec![ticker("BTCUSDT", Some(1.0)), ticker("ETHUSDT", Some(2.0))],
                candidate: vec![ticker("BTCUSDT", Some(10.0)), ticker("ETHUSDT", Some(20.0))],
                declared: &[],
                agrees: false,
                fields: &["mark"],
                declared_fields: &[],
                missing: 0,
                added: 0,
            },
            Case {
                name: "a value that became absent differs (null is not 0)",
                active: vec![ticker("BTCUSDT", Some(0.0))],
                candidate: vec![ticker("BTCUSDT", None)],
                declared: &[],
                agrees: false,
                fields: &["mark"],
                declared_fields: &[],
                missing: 0,
                added: 0,
            },
            Case {
                name: "a declared change is shown but accepted",
                active: vec![ticker("BTCUSDT", Some(1.0))],
                candidate: vec![ticker("BTCUSDT", Some(1.5))],
                declared: &["mark"],
                agrees: true,
                fields: &[],
                declared_fields: &["mark"],
                missing: 0,
                added: 0,
            },
            Case {
                name: "extras are compared key by key",
                active: vec![with_extra(ticker("BTCUSDT", None), "raw_status", "TRADING")],
                candidate: vec![with_extra(ticker("BTCUSDT", None), "raw_status", "BREAK")],
                declared: &[],
                agrees: false,
                fields: &["extra.raw_status"],
                declared_fields: &[],
                missing: 0,
                added: 0,
            },
            Case {
                name: "instruments missing and added",
                active: vec![ticker("BTCUSDT", None), ticker("ETHUSDT", None)],
                candidate: vec![ticker("BTCUSDT", None), ticker("SOLUSDT", None)],
                declared: &[],
                agrees: false,
                fields: &[],
                declared_fields: &[],
                missing: 1,
                added: 1,
            },
        ];
        for case in cases {
            let declared: BTreeSet<String> = case.declared.iter().map(|s| s.to_string()).collect();
            let mut cycle = CycleComparison::default();
            assert!(cycle.is_empty());
            cycle.add_round(
                &output(case.active, vec![]),
                &output(case.candidate, vec![]),
                &declared,
            );
            assert!(!cycle.is_empty());
            assert_eq!(cycle.agrees(), case.agrees, "{}", case.name);
            let fields: Vec<&str> = cycle.fields.keys().map(String::as_str).collect();
            assert_eq!(fields, case.fields, "{}", case.name);
            let declared_fields: Vec<&str> = cycle.declared.keys().map(String::as_str).collect();
            assert_eq!(declared_fields, case.declared_fields, "{}", case.name);
            assert_eq!(
                cycle.missing.symbols.len() as u64,
                case.missing,
                "{}",
                case.name
            );
            assert_eq!(
                cycle.added.symbols.len() as u64,
                case.added,
                "{}",
                case.name
            );
            assert_eq!(cycle.reason().is_empty(), case.agrees, "{}", case.name);
        }
    }

    #[test]
    fn divergence_examples_carry_both_values() {
        let mut cycle = CycleComparison::default();
        cycle.add_round(
            &output(vec![ticker("BTCUSDT", Some(1.0))], vec![]),
            &output(vec![ticker("BTCUSDT", Some(10.0))], vec![]),
            &BTreeSet::new(),
        );
        let mark = &cycle.fields["mark"];
        assert_eq!(mark.symbols.len(), 1);
        assert_eq!(
            mark.examples,
            vec![FieldExample {
                kind: "ticker".into(),
                raw_symbol: "BTCUSDT".into(),
                active: serde_json::json!(1.0),
                candidate: serde_json::json!(10.0),
            }]
        );
        let reason = cycle.reason();
        assert!(
            reason.contains("field mark differs on 1 instruments, e.g. BTCUSDT 1.0 → 10.0"),
            "{reason}"
        );
    }

    #[test]
    fn only_new_errors_count() {
        let parse_error = |tag: &str| PluginError::parse(tag, "bad body");
        let panic = PluginError::new(ErrorClass::PLUGIN_PANIC, "t1", "plugin panicked");
        let cases: [(&str, Vec<PluginError>, Vec<PluginError>, u64); 4] = [
            (
                "same errors",
                vec![parse_error("t1")],
                vec![parse_error("t1")],
                0,
            ),
            ("a new parse error", vec![], vec![parse_error("t1")], 1),
            ("a panic", vec![], vec![panic], 1),
            ("fewer errors are fine", vec![parse_error("t1")], vec![], 0),
        ];
        for (name, active, candidate, new_errors) in cases {
            let mut cycle = CycleComparison::default();
            cycle.add_round(
                &output(vec![], active),
                &output(vec![], candidate),
                &BTreeSet::new(),
            );
            assert_eq!(cycle.new_errors, new_errors, "{name}");
            assert_eq!(cycle.agrees(), new_errors == 0, "{name}");
        }
    }

    fn agreeing() -> CycleComparison {
        let mut cycle = CycleComparison::default();
        let out = output(vec![ticker("BTCUSDT", Some(1.0))], vec![]);
        cycle.add_round(&out, &out, &BTreeSet::new());
        cycle
    }

    fn comparing() -> Tally {
        Tally::default()
    }

    const MAX_INTERVAL: Duration = Duration::from_secs(600);

    fn kinds(list: &[(&str, Option<u64>)]) -> Vec<(String, Option<Duration>)> {
        list.iter()
            .map(|(k, s)| (k.to_string(), s.map(Duration::from_secs)))
            .collect()
    }

    #[test]
    fn promoted_once_every_required_kind_agreed_often_enough() {
        let mut tally = comparing();
        tally.enlist(
            "binance",
            &kinds(&[
                ("instruments", Some(3600)),
                ("tickers", Some(5)),
                ("funding", Some(30)),
                ("open_interest", None),
            ]),
            &["instruments", "tickers", "funding", "open_interest"],
            MAX_INTERVAL,
        );
        let required: Vec<&str> = tally
            .kinds
            .iter()
            .filter(|(_, k)| k.required)
            .map(|((_, kind), _)| kind.as_str())
            .collect();
        assert_eq!(
            required,
            ["funding", "tickers"],
            "hourly and off kinds are not waited for"
        );
        assert_eq!(
            tally.observe("binance", "tickers", agreeing(), 2),
            Verdict::Continue
        );
        assert_eq!(
            tally.observe("binance", "tickers", agreeing(), 2),
            Verdict::Continue
        );
        assert_eq!(
            tally.observe("binance", "funding", agreeing(), 2),
            Verdict::Continue,
            "funding has agreed once only"
        );
        assert_eq!(
            tally.observe("binance", "funding", agreeing(), 2),
            Verdict::Promote
        );
        assert_eq!(tally.state, CanaryState::Promoting);
        assert_eq!(
            tally.observe("binance", "funding", agreeing(), 2),
            Verdict::Ignored
        );
    }

    #[test]
    fn the_first_disagreeing_cycle_holds_back() {
        let mut tally = comparing();
        tally.enlist(
            "okx",
            &kinds(&[("tickers", Some(5))]),
            &["tickers"],
            MAX_INTERVAL,
        );
        let mut wrong = CycleComparison::default();
        wrong.add_round(
            &output(vec![ticker("BTC-USDT-SWAP", Some(1.0))], vec![]),
            &output(vec![ticker("BTC-USDT-SWAP", Some(2.0))], vec![]),
            &BTreeSet::new(),
        );
        assert_eq!(
            tally.observe("okx", "tickers", agreeing(), 3),
            Verdict::Continue
        );
        assert_eq!(tally.observe("okx", "tickers", wrong, 3), Verdict::HoldBack);
        assert_eq!(tally.state, CanaryState::HeldBack);
        let reason = tally.reason.clone().unwrap_or_default();
        assert!(
            reason.starts_with("okx tickers: field mark differs"),
            "{reason}"
        );
        assert_eq!(
            tally.observe("okx", "tickers", agreeing(), 3),
            Verdict::Ignored,
            "held back: no more comparisons"
        );
        assert_eq!(tally.fields["mark"].records, 1);
    }

    #[test]
    fn a_kind_the_candidate_lacks_holds_back() {
        let mut tally = comparing();
        tally.enlist(
            "bybit",
            &kinds(&[("tickers", Some(5)), ("funding", Some(30)), ("old", None)]),
            &["tickers"],
            MAX_INTERVAL,
        );
        assert_eq!(tally.state, CanaryState::HeldBack);
        assert_eq!(
            tally.reason.as_deref(),
            Some("the new version has no kind funding that bybit collects")
        );
    }

    #[test]
    fn with_only_slow_kinds_every_running_kind_is_waited_for() {
        let mut tally = comparing();
        tally.enlist(
            "x",
            &kinds(&[("instruments", Some(3600)), ("off", None)]),
            &["instruments", "off"],
            MAX_INTERVAL,
        );
        assert_eq!(
            tally.observe("x", "instruments", agreeing(), 2),
            Verdict::Continue
        );
        assert_eq!(
            tally.observe("x", "instruments", agreeing(), 2),
            Verdict::Promote
        );
    }

    #[test]
    fn nothing_enlisted_never_promotes_by_itself() {
        let tally = comparing();
        assert!(!tally.complete(0));
    }
}
