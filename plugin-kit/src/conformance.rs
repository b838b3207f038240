//! The plugin conformance suite (issue 15 item 3): the contract every exchange adapter must
//! keep, checked over the adapter's own functions and its recorded responses. An adapter runs
//! all of it with one line in `tests/conformance.rs`:
//! `plugin_kit::conformance_suite!(ADAPTER);` where `ADAPTER` is an [`Adapter`].
//!
//! Owns: the checks (one `pub fn` each, one `#[test]` each through [`crate::conformance_suite`]),
//! the bad bodies every endpoint must classify, the mutations proving absent values stay null,
//! and the bounded property run over mutated fixture bodies ([`mutated_fixtures_never_panic`];
//! `FC_FUZZ_CASES` raises its case count, `FC_FUZZ_SEED` replays a seed).
//! Must not: be used on a plugin's runtime path (feature `conformance`, a dev-dependency only;
//! it panics to fail tests), know any exchange's formats (the adapter supplies those), or be
//! weakened to let an adapter pass: fix the adapter.

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use plugin_api::abi_stable::std_types::{ROption, RSlice, RStr};
use plugin_api::{
    Context, ErrorClass, HttpRequest, HttpResponse, MarketType, ParseOutput, PluginError,
    PluginInfo, Record, RecordKind,
};
use serde_json::Value;

use crate::fuzz::{fuzz_cases, fuzz_seed, mutate};
use crate::symbols::{check_identity, Renames};

/// `now_ms` the suite calls the adapter with.
pub const NOW_MS: i64 = 1_750_000_000_000;
/// A second `now_ms`, one day later, for the clock check.
pub const LATER_MS: i64 = NOW_MS + 86_400_000;
/// `received_ts` of every response the suite builds.
pub const RECEIVED_MS: i64 = NOW_MS - 1_000;
/// Records one parse call may return per input byte, at most: a bound on output size (a
/// record needs far more than one byte of input on every exchange).
pub const MAX_RECORDS_PER_BYTE: usize = 1;
/// Mutated bodies per adapter in the test command: a few seconds in a debug build.
pub const DEFAULT_FUZZ_CASES: u64 = 300;
/// Nesting depth of the deeply nested bodies (far past serde_json's limit of 128).
const DEEP_NESTING: usize = 10_000;
/// Every prefix of a recorded body up to this many bytes is tried as a truncated body.
const EVERY_PREFIX_UP_TO: usize = 4_096;
/// Evenly spaced cuts tried of a longer body (bounded time: a few seconds per adapter).
const LONG_BODY_CUTS: usize = 256;
/// Digits of the huge integers.
const HUGE_DIGITS: usize = 400;

/// What a recorded answer's body is.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    /// A file in `../shared/exchange-fixtures/<Adapter::exchange>/`.
    Fixture(&'static str),
    /// A body written in the adapter's test (docs-shaped, where no recording exists).
    Inline(&'static str),
    /// A recorded file with every `(from, to)` text replacement made, in order (a recording of
    /// a neighbouring market re-labelled for the one the adapter collects).
    FixtureWith(&'static str, &'static [(&'static str, &'static str)]),
}

/// One collection round of a kind, answered by recorded bodies (HTTP 200), each for the
/// request the adapter builds with that tag.
#[derive(Clone, Copy, Debug)]
pub struct Round {
    pub kind: &'static str,
    pub answers: &'static [(&'static str, Body)],
}

/// An adapter as the suite sees it: its three entry points (the functions the export macro
/// wraps), its fixtures, its rename table and its recorded rounds.
#[derive(Clone, Copy)]
pub struct Adapter {
    /// The directory under `exchange-fixtures/` (`binanceusdm`, `bybit`, `okx`).
    pub exchange: &'static str,
    pub info: fn() -> PluginInfo,
    pub build_requests: fn(&str, &Context<'_>) -> Result<Vec<HttpRequest>, PluginError>,
    pub parse: fn(&str, &[HttpResponse<'_>], &Context<'_>) -> ParseOutput,
    /// The exchange's currency renames ([`crate::symbols`]).
    pub renames: &'static Renames,
    /// Recorded rounds; the first round of a kind that emits instruments and needs none
    /// provides `Context::instruments` for the others. Every kind of `info()` has one.
    pub rounds: &'static [Round],
    /// The adapter's `src/` directory (`concat!(env!("CARGO_MANIFEST_DIR"), "/src")`), scanned
    /// for clock reads.
    pub src_dir: &'static str,
}

/// Runs every check as its own `#[test]` in a module `conformance`. The argument is an
/// expression of type [`Adapter`] (usually a `const` of the test file).
#[macro_export]
macro_rules! conformance_suite {
    ($adapter:expr) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance as c;
            #[test]
            fn every_kind_is_recorded_and_every_request_has_a_rate_limit_rule() {
                c::rate_limits_cover_every_request(&$adapter);
            }
            #[test]
            fn recorded_fixtures_parse() {
                c::recorded_fixtures_parse(&$adapter);
            }
            #[test]
            fn bad_bodies_are_classified_errors() {
                c::bad_bodies_are_classified(&$adapter);
            }
            #[test]
            fn one_bad_response_keeps_the_others() {
                c::one_bad_response_keeps_the_others(&$adapter);
            }
            #[test]
            fn absent_values_are_null_never_zero() {
                c::absent_values_are_null(&$adapter);
            }
            #[test]
            fn only_perpetuals_with_unified_symbols() {
                c::only_perpetuals_with_unified_symbols(&$adapter);
            }
            #[test]
            fn instruments_and_funding_carry_their_facts() {
                c::instruments_and_funding_carry_their_facts(&$adapter);
            }
            #[test]
            fn never_reads_a_clock() {
                c::never_reads_a_clock(&$adapter);
            }
            #[test]
            fn mutated_fixtures_never_panic() {
                c::mutated_fixtures_never_panic(&$adapter);
            }
        }
    };
}

/// One check of the suite: passes, or panics with what is wrong.
pub type Check = fn(&Adapter);

/// Every check, by the name its test has: what [`failing_checks`] runs.
pub const CHECKS: [(&str, Check); 9] = [
    (
        "every_kind_is_recorded_and_every_request_has_a_rate_limit_rule",
        rate_limits_cover_every_request,
    ),
    ("recorded_fixtures_parse", recorded_fixtures_parse),
    (
        "bad_bodies_are_classified_errors",
        bad_bodies_are_classified,
    ),
    (
        "one_bad_response_keeps_the_others",
        one_bad_response_keeps_the_others,
    ),
    ("absent_values_are_null_never_zero", absent_values_are_null),
    (
        "only_perpetuals_with_unified_symbols",
        only_perpetuals_with_unified_symbols,
    ),
    (
        "instruments_and_funding_carry_their_facts",
        instruments_and_funding_carry_their_facts,
    ),
    ("never_reads_a_clock", never_reads_a_clock),
    ("mutated_fixtures_never_panic", mutated_fixtures_never_panic),
];

/// The names of the checks `adapter` fails (each run to its first failure; the failures are
/// printed): for an unfinished adapter such as the template, whose test pins exactly which.
pub fn failing_checks(adapter: &Adapter) -> Vec<&'static str> {
    CHECKS
        .iter()
        .filter(|(_, check)| catch_unwind(AssertUnwindSafe(|| check(adapter))).is_err())
        .map(|(name, _)| *name)
        .collect()
}

// --- running the adapter ---------------------------------------------------------------------

/// One answer as the suite hands it to `parse`.
struct Answer {
    tag: String,
    status: u16,
    body: Vec<u8>,
}

impl Adapter {
    fn body(&self, body: Body) -> Vec<u8> {
        match body {
            Body::Fixture(name) => crate::fixtures::read(self.exchange, name),
            Body::Inline(text) => text.as_bytes().to_vec(),
            Body::FixtureWith(name, replacements) => replacements
                .iter()
                .fold(
                    crate::fixtures::text(self.exchange, name),
                    |text, (from, to)| text.replace(from, to),
                )
                .into_bytes(),
        }
    }

    fn answers(&self, round: &Round) -> Vec<Answer> {
        round
            .answers
            .iter()
            .map(|(tag, body)| Answer {
                tag: (*tag).to_owned(),
                status: 200,
                body: self.body(*body),
            })
            .collect()
    }

    fn emits(&self, kind: &str) -> RecordKind {
        (self.info)()
            .kinds
            .iter()
            .find(|k| k.name.as_str() == kind)
            .unwrap_or_else(|| panic!("{}: a round of unknown kind {kind}", self.exchange))
            .emits
    }

    /// The instruments the host would hold: the recorded instruments round, parsed and sorted
    /// by raw symbol.
    fn instruments(&self) -> Vec<Record> {
        let info = (self.info)();
        let round = self
            .rounds
            .iter()
            .find(|round| {
                info.kinds.iter().any(|k| {
                    k.name.as_str() == round.kind
                        && k.emits == RecordKind::INSTRUMENT
                        && !k.needs_instruments
                })
            })
            .unwrap_or_else(|| panic!("{}: no recorded instruments round", self.exchange));
        // Errors of this round are `recorded_fixtures_parse`'s to report; here they only leave
        // fewer instruments.
        let out = self.run(round.kind, &self.answers(round), &[], NOW_MS);
        let mut records: Vec<Record> = out.records.into_iter().collect();
        records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
        records
    }

    fn context<'a>(&self, instruments: &'a [Record], now_ms: i64) -> Context<'a> {
        Context {
            exchange_id: RStr::from_str(self.exchange),
            now_ms,
            instruments: RSlice::from_slice(instruments),
            options: RSlice::from_slice(&[]),
            credentials: ROption::RNone,
        }
    }

    fn requests(&self, kind: &str, instruments: &[Record], now_ms: i64) -> Vec<HttpRequest> {
        (self.build_requests)(kind, &self.context(instruments, now_ms))
            .unwrap_or_else(|e| panic!("{}: build_requests({kind}): {e:?}", self.exchange))
    }

    /// Parses `answers` of `kind`, each answering the request the adapter builds with its tag;
    /// a panic fails the test with the case named.
    fn run(&self, kind: &str, answers: &[Answer], instruments: &[Record], now: i64) -> ParseOutput {
        let requests = self.requests(kind, instruments, now);
        let matched: Vec<&HttpRequest> = answers
            .iter()
            .map(|a| {
                requests
                    .iter()
                    .find(|r| r.tag.as_str() == a.tag)
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: {kind} builds no request tagged {}",
                            self.exchange, a.tag
                        )
                    })
            })
            .collect();
        let responses: Vec<HttpResponse<'_>> = matched
            .iter()
            .zip(answers)
            .map(|(request, a)| HttpResponse {
                request,
                status: a.status,
                headers: RSlice::from_slice(&[]),
                body: RSlice::from_slice(&a.body),
                received_ts: RECEIVED_MS,
            })
            .collect();
        let ctx = self.context(instruments, now);
        catch_unwind(AssertUnwindSafe(|| (self.parse)(kind, &responses, &ctx))).unwrap_or_else(
            |_| {
                let tags: Vec<&str> = answers.iter().map(|a| a.tag.as_str()).collect();
                panic!(
                    "{}: parse({kind}) panicked on answers {tags:?}",
                    self.exchange
                )
            },
        )
    }

    /// Every recorded round with its output, at `now`.
    fn recorded_outputs(&self, instruments: &[Record], now: i64) -> Vec<(Round, ParseOutput)> {
        self.rounds
            .iter()
            .map(|round| {
                (
                    *round,
                    self.run(round.kind, &self.answers(round), instruments, now),
                )
            })
            .collect()
    }
}

/// The value fields of a record, by name (the ones an absent exchange value must leave `RNone`).
fn numbers(r: &Record) -> Vec<(&'static str, Option<f64>)> {
    let o = |v: &ROption<f64>| v.as_ref().into_option().copied();
    let t = |v: &ROption<i64>| v.as_ref().into_option().map(|t| *t as f64);
    vec![
        ("exchange_ts", t(&r.exchange_ts)),
        ("last", o(&r.last)),
        ("bid", o(&r.bid)),
        ("ask", o(&r.ask)),
        ("mark", o(&r.mark)),
        ("index", o(&r.index)),
        ("volume_24h_base", o(&r.volume_24h_base)),
        ("volume_24h_quote", o(&r.volume_24h_quote)),
        ("open_interest_base", o(&r.open_interest_base)),
        ("open_interest_quote", o(&r.open_interest_quote)),
        ("rate", o(&r.rate)),
        ("interval_hours", o(&r.interval_hours)),
        ("next_funding_ts", t(&r.next_funding_ts)),
        ("predicted_rate", o(&r.predicted_rate)),
        ("rate_cap", o(&r.rate_cap)),
        ("rate_floor", o(&r.rate_floor)),
        ("contract_size", o(&r.contract_size)),
        ("tick_size", o(&r.tick_size)),
        ("listing_ts", t(&r.listing_ts)),
        ("delisting_ts", t(&r.delisting_ts)),
    ]
}

/// What every output must satisfy, whatever the input: errors classified and tagged with a
/// request of the round, values finite, host-computed fields unset, output bounded.
fn check_output(adapter: &Adapter, case: &str, tags: &[&str], input_len: usize, out: &ParseOutput) {
    let known = [
        ErrorClass::TRANSIENT,
        ErrorClass::RATE_LIMITED,
        ErrorClass::PERMANENT,
        ErrorClass::PARSE,
    ];
    for e in out.errors.iter() {
        assert!(
            known.contains(&e.class),
            "{}: {case}: unclassified {e:?}",
            adapter.exchange
        );
        assert!(
            tags.iter().any(|t| e.request_tag.as_str() == *t)
                || tags.iter().any(|t| e.request_tag.starts_with(t)),
            "{}: {case}: error names no request of the round: {e:?}",
            adapter.exchange
        );
    }
    for r in out.records.iter() {
        for (name, v) in numbers(r) {
            assert!(
                v.is_none_or(f64::is_finite),
                "{}: {case}: {} {name} is {v:?}",
                adapter.exchange,
                r.symbol
            );
        }
        assert!(
            r.rate_8h.is_none() && r.rate_annualized.is_none(),
            "{}: {case}: {} sets host-computed rates",
            adapter.exchange,
            r.symbol
        );
    }
    assert!(
        out.records.len() <= input_len.max(1) * MAX_RECORDS_PER_BYTE,
        "{}: {case}: {} records from {input_len} bytes",
        adapter.exchange,
        out.records.len()
    );
}

// --- the checks --------------------------------------------------------------------------------

/// Every kind of `info()` has a recorded round; every request it builds (and every follow-up it
/// asks for) starts with `/`, weighs at least 1 and is covered by a rate-limit rule; an
/// unknown kind is a permanent error.
pub fn rate_limits_cover_every_request(adapter: &Adapter) {
    let info = (adapter.info)();
    let instruments = adapter.instruments();
    let covered = |r: &HttpRequest| {
        r.path.starts_with('/')
            && r.weight >= 1
            && info
                .rate_limits
                .iter()
                .any(|rule| r.path.as_str().starts_with(rule.path_prefix.as_str()))
    };
    for kind in info.kinds.iter() {
        let kind = kind.name.as_str();
        assert!(
            adapter.rounds.iter().any(|r| r.kind == kind),
            "{}: kind {kind} has no recorded round",
            adapter.exchange
        );
        let requests = adapter.requests(kind, &instruments, NOW_MS);
        assert!(
            !requests.is_empty(),
            "{}: {kind} builds no request",
            adapter.exchange
        );
        for r in &requests {
            assert!(
                covered(r),
                "{}: {kind}: {} has no rule",
                adapter.exchange,
                r.path
            );
        }
    }
    for (round, out) in adapter.recorded_outputs(&instruments, NOW_MS) {
        for r in out.next_requests.iter() {
            assert!(
                covered(r),
                "{}: {} follow-up {} has no rule",
                adapter.exchange,
                round.kind,
                r.path
            );
        }
    }
    let unknown = (adapter.build_requests)("no-such-kind", &adapter.context(&instruments, NOW_MS));
    assert!(
        matches!(&unknown, Err(e) if e.class == ErrorClass::PERMANENT),
        "{}: unknown kind gave {unknown:?}",
        adapter.exchange
    );
}

/// Every recorded round parses without errors into records of the kind it emits.
pub fn recorded_fixtures_parse(adapter: &Adapter) {
    let instruments = adapter.instruments();
    for (round, out) in adapter.recorded_outputs(&instruments, NOW_MS) {
        let case = format!("recorded {}", round.kind);
        assert!(
            out.errors.is_empty(),
            "{}: {case}: {:?}",
            adapter.exchange,
            out.errors
        );
        assert!(
            !out.records.is_empty(),
            "{}: {case}: no records",
            adapter.exchange
        );
        let emits = adapter.emits(round.kind);
        for r in out.records.iter() {
            assert_eq!(r.kind, emits, "{}: {case}: {}", adapter.exchange, r.symbol);
            assert_eq!(
                r.received_ts, RECEIVED_MS,
                "{}: {case}: {}",
                adapter.exchange, r.symbol
            );
        }
        let tags: Vec<&str> = round.answers.iter().map(|(t, _)| *t).collect();
        let len = round
            .answers
            .iter()
            .map(|(_, b)| adapter.body(*b).len())
            .sum();
        check_output(adapter, &case, &tags, len, &out);
    }
}

/// Bodies no endpoint documents, each of which must give a classified error naming its
/// request, no records, and no panic: `(case, body)`. `good` is a recorded body (truncated).
pub fn bad_bodies(good: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = [
        ("empty", ""),
        ("whitespace", " \r\n\t "),
        (
            "HTML",
            "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
        (
            "plain text",
            "upstream connect error or disconnect/reset before headers",
        ),
        ("garbage", "\u{1}\u{2}garbage\u{7f}"),
        ("not UTF-8", ""),
        ("null", "null"),
        ("true", "true"),
        ("a string", "\"ok\""),
        ("a number", "42"),
        ("empty object", "{}"),
        ("array of nulls", "[null,null]"),
        ("array of numbers", "[1,2,3]"),
        ("object of arrays", r#"{"a":[],"b":[]}"#),
        ("unclosed", "{"),
        ("trailing garbage", "{}}"),
        ("huge float", "1e999"),
        ("huge negative float", "[-1e999]"),
        ("huge exponent in an object", r#"{"x":1e400,"y":[1e400]}"#),
    ]
    .iter()
    .map(|(case, body)| ((*case).to_owned(), body.as_bytes().to_vec()))
    .collect();
    if let Some(entry) = cases.iter_mut().find(|(case, _)| case == "not UTF-8") {
        entry.1 = b"{\"data\":[\"\xff\xfe\"]}".to_vec();
    }
    let huge = "9".repeat(HUGE_DIGITS);
    cases.push(("huge integer".into(), huge.clone().into_bytes()));
    cases.push((
        "object of huge integers".into(),
        format!(r#"{{"a":{huge},"b":-{huge}}}"#).into_bytes(),
    ));
    cases.push(("deep arrays".into(), "[".repeat(DEEP_NESTING).into_bytes()));
    let mut deep_closed = "[".repeat(DEEP_NESTING);
    deep_closed.push_str(&"]".repeat(DEEP_NESTING));
    cases.push(("deep closed arrays".into(), deep_closed.into_bytes()));
    cases.push((
        "deep objects".into(),
        r#"{"a":"#.repeat(DEEP_NESTING).into_bytes(),
    ));
    let complete = good.trim_ascii_end().len();
    let step = if complete <= EVERY_PREFIX_UP_TO {
        1
    } else {
        complete.div_ceil(LONG_BODY_CUTS)
    };
    for cut in (1..complete).step_by(step) {
        cases.push((
            format!("truncated at {cut}"),
            good.get(..cut).unwrap_or(good).to_vec(),
        ));
    }
    cases
}

/// Every bad body, for every request of every recorded round: a classified error naming the
/// request, never a panic, never an empty success, never a record.
pub fn bad_bodies_are_classified(adapter: &Adapter) {
    let instruments = adapter.instruments();
    for round in adapter.rounds {
        for (tag, good) in round.answers {
            for (case, body) in bad_bodies(&adapter.body(*good)) {
                let case = format!("{} {tag}: {case}", round.kind);
                let answers = [Answer {
                    tag: (*tag).to_owned(),
                    status: 200,
                    body,
                }];
                let out = adapter.run(round.kind, &answers, &instruments, NOW_MS);
                check_output(adapter, &case, &[tag], answers[0].body.len(), &out);
                assert!(
                    !out.errors.is_empty(),
                    "{}: {case}: an empty success",
                    adapter.exchange
                );
                assert!(
                    out.errors.iter().all(|e| e.request_tag.as_str() == *tag),
                    "{}: {case}: {:?}",
                    adapter.exchange,
                    out.errors
                );
                assert!(
                    out.records.is_empty(),
                    "{}: {case}: {:?}",
                    adapter.exchange,
                    out.records
                );
            }
        }
    }
}

/// In every recorded round of two or more responses, one garbled response gives errors naming
/// it alone while the records the others give still come out.
pub fn one_bad_response_keeps_the_others(adapter: &Adapter) {
    let instruments = adapter.instruments();
    for round in adapter.rounds.iter().filter(|r| r.answers.len() > 1) {
        for bad in 0..round.answers.len() {
            let mut answers = adapter.answers(round);
            let bad_tag = answers[bad].tag.clone();
            answers[bad].body = b"<html>502 Bad Gateway</html>".to_vec();
            let alone: Vec<Answer> = adapter
                .answers(round)
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i != bad)
                .map(|(_, a)| a)
                .collect();
            let without = adapter.run(round.kind, &alone, &instruments, NOW_MS);
            let out = adapter.run(round.kind, &answers, &instruments, NOW_MS);
            let case = format!("{} with {bad_tag} garbled", round.kind);
            assert!(
                !out.errors.is_empty()
                    && out.errors.iter().all(|e| e.request_tag == bad_tag.as_str()),
                "{}: {case}: {:?}",
                adapter.exchange,
                out.errors
            );
            assert_eq!(
                out.records, without.records,
                "{}: {case}: the other responses' records changed",
                adapter.exchange
            );
            assert!(
                !out.records.is_empty() || without.records.is_empty(),
                "{}: {case}: no records kept",
                adapter.exchange
            );
        }
    }
}

/// Every key of every row object (an object inside an array) in `value`.
fn row_keys(value: &Value, keys: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Array(items) => {
            for item in items {
                if let Value::Object(map) = item {
                    keys.extend(map.keys().cloned());
                }
                row_keys(item, keys);
            }
        }
        Value::Object(map) => map.values().for_each(|v| row_keys(v, keys)),
        _ => {}
    }
}

/// `value` with `key` of every row object removed (`with: None`) or replaced.
fn mutate_rows(value: &mut Value, key: &str, with: Option<&Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                if let Value::Object(map) = item {
                    match with {
                        None => {
                            map.remove(key);
                        }
                        Some(v) => {
                            if let Some(slot) = map.get_mut(key) {
                                *slot = v.clone();
                            }
                        }
                    }
                }
                mutate_rows(item, key, with);
            }
        }
        Value::Object(map) => map.values_mut().for_each(|v| mutate_rows(v, key, with)),
        _ => {}
    }
}

/// Removing a row field, or sending it as `null` or `""`, never turns a record value into 0
/// and never makes one appear: a value present after the mutation was there before it, and is
/// 0 only if it was 0.
pub fn absent_values_are_null(adapter: &Adapter) {
    let instruments = adapter.instruments();
    let key_of = |r: &Record| (r.kind, r.raw_symbol.as_str().to_owned());
    for round in adapter.rounds {
        let original = adapter.run(round.kind, &adapter.answers(round), &instruments, NOW_MS);
        let before: BTreeMap<_, Vec<(&str, Option<f64>)>> = original
            .records
            .iter()
            .map(|r| (key_of(r), numbers(r)))
            .collect();
        for (i, (tag, body)) in round.answers.iter().enumerate() {
            let Ok(json) = serde_json::from_slice::<Value>(&adapter.body(*body)) else {
                continue;
            };
            let mut keys = Default::default();
            row_keys(&json, &mut keys);
            for key in &keys {
                for with in [None, Some(Value::Null), Some(Value::String(String::new()))] {
                    let mut mutated = json.clone();
                    mutate_rows(&mut mutated, key, with.as_ref());
                    let mut answers = adapter.answers(round);
                    answers[i].body = serde_json::to_vec(&mutated).expect("JSON");
                    let out = adapter.run(round.kind, &answers, &instruments, NOW_MS);
                    for r in out.records.iter() {
                        let Some(was) = before.get(&key_of(r)) else {
                            continue;
                        };
                        for ((name, now), (_, was)) in numbers(r).into_iter().zip(was) {
                            if let Some(now) = now {
                                // A value may survive (other fields give it) or be derived
                                // otherwise, but never appear from nothing or become a made-up 0.
                                let made_up = was.is_none() || (now == 0.0 && *was != Some(0.0));
                                assert!(
                                    !made_up,
                                    "{}: {} {tag} `{key}` {with:?}: {} {name} became {now}",
                                    adapter.exchange, round.kind, r.symbol
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// True when `symbol` carries a delivery date: `_250627`/`-250627` (YYMMDD) or `-27JUN25`.
pub fn looks_dated(symbol: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    symbol.split(['_', '-', '/', ':']).skip(1).any(|part| {
        let b = part.as_bytes();
        let yymmdd = b.len() == 6
            && b.iter().all(u8::is_ascii_digit)
            && matches!(
                part.get(2..4).and_then(|m| m.parse::<u8>().ok()),
                Some(1..=12)
            );
        let ddmonyy = (b.len() == 6 || b.len() == 7)
            && b.first().is_some_and(u8::is_ascii_digit)
            && MONTHS.iter().any(|m| part.contains(m))
            && b.last().is_some_and(u8::is_ascii_digit);
        yymmdd || ddmonyy
    })
}

/// No record of any recorded round is a dated contract, every market type is a perpetual one,
/// and every identity follows the unified rules ([`check_identity`]).
pub fn only_perpetuals_with_unified_symbols(adapter: &Adapter) {
    let instruments = adapter.instruments();
    for (round, out) in adapter.recorded_outputs(&instruments, NOW_MS) {
        for r in out.records.iter() {
            let case = format!("{}: {} {}", adapter.exchange, round.kind, r.raw_symbol);
            assert!(
                r.market_type == MarketType::LINEAR_PERPETUAL
                    || r.market_type == MarketType::INVERSE_PERPETUAL,
                "{case}: market type {:?}",
                r.market_type
            );
            assert!(
                !looks_dated(&r.raw_symbol) && !looks_dated(&r.symbol),
                "{case}: dated"
            );
            if let Err(e) = check_identity(r, adapter.renames) {
                panic!("{case}: {e}");
            }
        }
    }
}

/// Instrument records carry a positive contract size and tick size; funding records carry an
/// interval and its source; wherever an interval is set, so is its source, and vice versa.
pub fn instruments_and_funding_carry_their_facts(adapter: &Adapter) {
    let instruments = adapter.instruments();
    let positive = |v: &ROption<f64>| matches!(v, ROption::RSome(x) if *x > 0.0);
    for (round, out) in adapter.recorded_outputs(&instruments, NOW_MS) {
        for r in out.records.iter() {
            let case = format!("{}: {} {}", adapter.exchange, round.kind, r.symbol);
            assert_eq!(
                r.interval_hours.is_some(),
                r.interval_source.is_some(),
                "{case}"
            );
            if r.kind == RecordKind::INSTRUMENT {
                assert!(
                    positive(&r.contract_size),
                    "{case}: contract size {:?}",
                    r.contract_size
                );
                assert!(
                    positive(&r.tick_size),
                    "{case}: tick size {:?}",
                    r.tick_size
                );
            }
            if r.kind == RecordKind::FUNDING {
                assert!(
                    positive(&r.interval_hours),
                    "{case}: interval {:?}",
                    r.interval_hours
                );
            }
        }
    }
}

/// Clock reads a plugin's source must not contain.
const CLOCK_READS: [&str; 5] = [
    "SystemTime::now",
    "Instant::now",
    "Utc::now",
    "Local::now",
    "OffsetDateTime::now",
];

/// The adapter never reads a clock: identical calls give identical outputs; the same inputs at
/// two `now_ms` give the same requests and records (only a wait computed from a reset time may
/// differ); and its source names no clock.
pub fn never_reads_a_clock(adapter: &Adapter) {
    let instruments = adapter.instruments();
    let first = adapter.recorded_outputs(&instruments, NOW_MS);
    let again = adapter.recorded_outputs(&instruments, NOW_MS);
    let later = adapter.recorded_outputs(&instruments, LATER_MS);
    for (((round, a), (_, b)), (_, c)) in first.iter().zip(&again).zip(&later) {
        assert_eq!(
            a, b,
            "{}: {}: two identical calls differ",
            adapter.exchange, round.kind
        );
        assert_eq!(
            a.records, c.records,
            "{}: {}: records depend on now_ms",
            adapter.exchange, round.kind
        );
        assert_eq!(
            a.warnings, c.warnings,
            "{}: {}",
            adapter.exchange, round.kind
        );
        assert_eq!(
            a.next_requests, c.next_requests,
            "{}: {}",
            adapter.exchange, round.kind
        );
        assert_eq!(
            a.errors.len(),
            c.errors.len(),
            "{}: {}",
            adapter.exchange,
            round.kind
        );
    }
    for kind in (adapter.info)().kinds.iter() {
        let kind = kind.name.as_str();
        assert_eq!(
            adapter.requests(kind, &instruments, NOW_MS),
            adapter.requests(kind, &instruments, LATER_MS),
            "{}: {kind}: requests depend on now_ms",
            adapter.exchange
        );
    }
    let mut stack = vec![std::path::PathBuf::from(adapter.src_dir)];
    let mut scanned = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            let entries = std::fs::read_dir(&path).expect("src is readable");
            stack.extend(entries.map(|e| e.expect("entry").path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("source is UTF-8");
            for clock in CLOCK_READS {
                assert!(
                    !text.contains(clock),
                    "{} reads a clock: {clock}",
                    path.display()
                );
            }
            scanned += 1;
        }
    }
    assert!(
        scanned > 0,
        "{}: no source found under {}",
        adapter.exchange,
        adapter.src_dir
    );
}

/// A bounded property run of `parse` over mutated recorded bodies ([`fuzz_cases`] cases, one
/// response of a round mutated each time): no panic, output bounded, every error classified
/// and naming a request of the round, every value finite.
pub fn mutated_fixtures_never_panic(adapter: &Adapter) {
    let instruments = adapter.instruments();
    let mut rng = fastrand::Rng::with_seed(fuzz_seed());
    let cases = fuzz_cases(DEFAULT_FUZZ_CASES);
    for case in 0..cases {
        let round = &adapter.rounds[rng.usize(..adapter.rounds.len())];
        let mut answers = adapter.answers(round);
        let i = rng.usize(..answers.len());
        let steps = rng.usize(1..8);
        answers[i].body = mutate(&mut rng, &answers[i].body, steps);
        let out = adapter.run(round.kind, &answers, &instruments, NOW_MS);
        let tags: Vec<&str> = answers.iter().map(|a| a.tag.as_str()).collect();
        let len = answers.iter().map(|a| a.body.len()).sum();
        check_output(
            adapter,
            &format!("case {case} ({} {})", round.kind, tags[i]),
            &tags,
            len,
            &out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_symbols_are_recognised() {
        for dated in [
            "BTCUSDT_250627",
            "BTC-USD-250627",
            "BTC-27JUN25",
            "ETH-USDT-241227",
        ] {
            assert!(looks_dated(dated), "{dated}");
        }
        for perpetual in [
            "BTCUSDT",
            "BTC-USDT-SWAP",
            "1000PEPE/USDT:USDT",
            "BTC/USD:BTC",
            "X_123",
        ] {
            assert!(!looks_dated(perpetual), "{perpetual}");
        }
    }

    #[test]
    fn bad_bodies_include_every_truncation_of_a_short_good_one() {
        let good: &[u8] = b"{\"data\":[1,2,3,4,5,6,7,8,9,10]}\n";
        let cases = bad_bodies(good);
        let truncated: Vec<&Vec<u8>> = cases
            .iter()
            .filter(|(c, _)| c.starts_with("truncated"))
            .map(|(_, body)| body)
            .collect();
        assert_eq!(
            truncated.len(),
            good.len() - 2,
            "every prefix but empty and whole"
        );
        assert!(truncated.iter().all(|body| good.starts_with(body)));
        assert!(cases
            .iter()
            .all(|(_, body)| body.as_slice() != good.trim_ascii_end()));
        let long = vec![b' '; EVERY_PREFIX_UP_TO * 4];
        let mut long_good = b"[".to_vec();
        long_good.extend(long);
        long_good.push(b']');
        let cuts = bad_bodies(&long_good)
            .iter()
            .filter(|(c, _)| c.starts_with("truncated"))
            .count();
        assert!(cuts <= LONG_BODY_CUTS, "{cuts}");
    }
}
