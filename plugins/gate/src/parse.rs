//! Responses → records, per kind: instruments, tickers and funding.
//!
//! Owns: the field mapping from Gate rows onto [`Record`] and Gate's unit conversions: times
//! and the funding interval in **seconds** (→ ms, → hours), open interest in **contracts**
//! (× `quanto_multiplier`, the instrument's contract size), `"nan"` as absent; status
//! normalization; skipping rows that are not collected (inverse or unknown contracts) and
//! summarising them in one warning per call.
//! Must not: classify transport or error bodies (`errors.rs` describes them, plugin-kit's
//! `envelope::check` classifies), set `rate_8h` / `rate_annualized` (the host computes them),
//! write 0 for a missing value, or panic.
//!
//! Gate serves no time with its answers: `exchange_ts` is absent on every record.

use abi_stable::std_types::{
    RNone,
    ROption::{self, RSome},
};
use plugin_api::{
    Context, HttpResponse, IntervalSource, MarketType, ParseOutput, PluginError, Record, RecordKind,
};
use plugin_kit::{
    envelope::check, json_from_body, snippet, symbols, time::TimeUnit, SkippedSymbols,
};
use serde::Deserialize;

use crate::errors::GateEnvelope;
use crate::model::{ContractRow, TickerRow};
use crate::requests::{unknown_kind, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS};
use crate::CURRENCY_RENAMES;

/// `extra` key: Gate's own `status` word (or `in_delisting` / `is_pre_market` flags).
pub const EXTRA_RAW_STATUS: &str = "raw_status";
/// `extra` key on instruments: `"true"` for pre-market contracts (no real index yet).
pub const EXTRA_PRE_MARKET: &str = "pre_market";
/// `extra` key on tickers: `open_interest_quote` is base OI × mark price, not served.
pub const EXTRA_OI_QUOTE_DERIVED: &str = "oi_quote_derived";
/// `extra` key on funding: where `rate_cap`/`rate_floor` come from (`funding_rate_limit`, ±).
pub const EXTRA_CAP_SOURCE: &str = "rate_cap_source";

/// The settle currency of every contract of `/futures/usdt`.
const SETTLE: &str = "USDT";
/// `type` of linear contracts.
const DIRECT: &str = "direct";
/// Gate's contract names: `BTC_USDT`.
const NAME_SEPARATOR: char = '_';
const SECONDS_PER_HOUR: f64 = 3_600.0;
/// Gate's default funding interval when nothing states one (8 h).
const DEFAULT_INTERVAL_HOURS: f64 = 8.0;

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx, &mut out),
        KIND_TICKERS => parse_tickers(responses, ctx, &mut out),
        KIND_FUNDING => parse_funding(responses, ctx, &mut out),
        other => {
            if responses.is_empty() {
                out.errors.push(unknown_kind("", other));
            }
            for response in responses {
                out.errors.push(unknown_kind(response.tag(), other));
            }
        }
    }
    out
}

/// Checks one response and decodes it as a non-empty array of rows; pushes the classified
/// error and gives `None` otherwise.
fn open_rows<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
    out: &mut ParseOutput,
) -> Option<Vec<T>> {
    let tag = response.tag();
    let body = response.body();
    let checked = check::<GateEnvelope>(response, ctx.now_ms)
        .and_then(|()| plugin_kit::check_json_body(body, tag));
    if let Err(error) = checked {
        out.errors.push(error);
        return None;
    }
    match json_from_body::<Vec<T>>(body) {
        Ok(rows) if rows.is_empty() => {
            out.errors.push(PluginError::parse(
                tag,
                "empty list (/futures/usdt always lists contracts)",
            ));
            None
        }
        Ok(rows) => Some(rows),
        Err(e) => {
            out.errors.push(PluginError::parse(
                tag,
                format!(
                    "unexpected response body from {} ({e}): {}",
                    response.request.path,
                    snippet(body)
                ),
            ));
            None
        }
    }
}

/// A time Gate writes in seconds, as Unix ms; `0`, negative or absent is `None`.
fn seconds_to_ms(seconds: Option<f64>) -> Option<i64> {
    seconds
        .filter(|s| *s > 0.0)
        .and_then(|s| TimeUnit::Seconds.decimal_to_ms(s))
}

/// Gate's `funding_interval` (seconds) in hours.
fn interval_hours(seconds: Option<f64>) -> Option<f64> {
    seconds.filter(|s| *s > 0.0).map(|s| s / SECONDS_PER_HOUR)
}

/// `BTC_USDT` → (`BTC`, `USDT`).
fn split_name(name: &str) -> Option<(&str, &str)> {
    let (base, quote) = name.trim().split_once(NAME_SEPARATOR)?;
    (!base.is_empty() && !quote.is_empty() && !quote.contains(NAME_SEPARATOR))
        .then_some((base, quote))
}

// --- instruments -------------------------------------------------------------------------------

#[derive(Default)]
struct InstrumentNotes {
    not_linear: SkippedSymbols,
    incomplete: SkippedSymbols,
}

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>, out: &mut ParseOutput) {
    let mut notes = InstrumentNotes::default();
    for response in responses {
        let Some(rows) = open_rows::<ContractRow<'_>>(response, ctx, out) else {
            continue;
        };
        out.records.reserve(rows.len());
        for row in &rows {
            if let Some(record) = instrument_record(row, ctx, response.received_ts, &mut notes) {
                out.records.push(record);
            }
        }
    }
    notes.not_linear.report(
        out,
        "of contracts whose type is not `direct` (linear) in /futures/usdt",
    );
    notes
        .incomplete
        .report(out, "of contracts whose name is not BASE_QUOTE");
}

fn instrument_record(
    row: &ContractRow<'_>,
    ctx: &Context<'_>,
    received_ts: i64,
    notes: &mut InstrumentNotes,
) -> Option<Record> {
    let name = row.name.trim();
    let Some((base, quote)) = split_name(name) else {
        notes.incomplete.add(if name.is_empty() {
            "(empty name)"
        } else {
            name
        });
        return None;
    };
    match row.contract_type.map(str::trim) {
        Some(DIRECT) | None => {}
        Some(other) => {
            notes.not_linear.add(&format!("{name} ({other})"));
            return None;
        }
    }
    let mut r = symbols::instrument_record(
        ctx,
        name,
        base,
        quote,
        SETTLE,
        MarketType::LINEAR_PERPETUAL,
        received_ts,
        CURRENCY_RENAMES,
    );
    // One contract is `quanto_multiplier` base units (`"0"` or absent: unknown, never 0).
    r.contract_size = positive(row.quanto_multiplier);
    r.tick_size = positive(row.order_price_round);
    let (status, raw) = status_of(row);
    if let Some(status) = status {
        r.status = RSome(status.into());
    }
    if let Some(raw) = raw {
        r.push_extra(EXTRA_RAW_STATUS, raw);
    }
    if row.is_pre_market == Some(true) {
        r.push_extra(EXTRA_PRE_MARKET, "true");
    }
    r.listing_ts = seconds_to_ms(row.launch_time)
        .or_else(|| seconds_to_ms(row.create_time))
        .into();
    r.delisting_ts = seconds_to_ms(row.delisting_time).into();
    if let Some(hours) = interval_hours(row.funding_interval) {
        r.interval_hours = RSome(hours);
        r.interval_source = RSome(IntervalSource::REPORTED);
    }
    Some(r)
}

/// The record's status and the raw word it came from. Gate's `status` word when served
/// (`trading`, `delisting`, `delisted`, `prelaunch`); else the `in_delisting` /
/// `is_pre_market` flags (older responses have only those).
fn status_of<'a>(row: &ContractRow<'a>) -> (Option<&'static str>, Option<&'a str>) {
    let raw = row.status.map(str::trim).filter(|s| !s.is_empty());
    let status = match raw {
        Some("trading") if row.in_delisting == Some(true) => Some("settling"),
        Some("trading") if row.is_pre_market == Some(true) => Some("pre_launch"),
        Some("trading") => Some("trading"),
        Some("delisting") => Some("settling"),
        Some("delisted") => Some("delisted"),
        Some("prelaunch") => Some("pre_launch"),
        Some("suspend") => Some("halted"),
        Some(_) => None,
        None if row.in_delisting == Some(true) => Some("settling"),
        None if row.is_pre_market == Some(true) => Some("pre_launch"),
        None if row.in_delisting == Some(false) => Some("trading"),
        None => None,
    };
    (status, raw)
}

// --- tickers -----------------------------------------------------------------------------------

fn parse_tickers(responses: &[HttpResponse<'_>], ctx: &Context<'_>, out: &mut ParseOutput) {
    let mut unknown = SkippedSymbols::new();
    for response in responses {
        let Some(rows) = open_rows::<TickerRow<'_>>(response, ctx, out) else {
            continue;
        };
        out.records.reserve(rows.len());
        for row in &rows {
            let Some(instrument) = ctx.instrument(row.contract) else {
                unknown.add(row.contract);
                continue;
            };
            out.records
                .push(ticker_record(row, instrument, response.received_ts));
        }
    }
    unknown.report(out, "of tickers not listed by the last instruments cycle");
}

fn ticker_record(row: &TickerRow<'_>, instrument: &Record, received_ts: i64) -> Record {
    let mut r = Record::for_instrument(RecordKind::TICKER, instrument, received_ts);
    r.last = positive(row.last);
    r.bid = positive(row.highest_bid);
    r.ask = positive(row.lowest_ask);
    r.mark = positive(row.mark_price);
    r.index = positive(row.index_price);
    r.volume_24h_base = non_negative(row.volume_24h_base);
    r.volume_24h_quote = non_negative(row.volume_24h_quote);
    // `total_size` counts contracts: × the contract size gives base units. Without a known
    // contract size the open interest stays absent (a contract count is not a base amount).
    if let (Some(contracts), RSome(size)) = (
        row.total_size.filter(|v| *v >= 0.0),
        instrument.contract_size,
    ) {
        let base = contracts * size;
        r.open_interest_base = RSome(base);
        if let RSome(mark) = r.mark {
            r.open_interest_quote = RSome(base * mark);
            r.push_extra(EXTRA_OI_QUOTE_DERIVED, "true");
        }
    }
    r
}

// --- funding -----------------------------------------------------------------------------------

fn parse_funding(responses: &[HttpResponse<'_>], ctx: &Context<'_>, out: &mut ParseOutput) {
    let mut unknown = SkippedSymbols::new();
    for response in responses {
        let Some(rows) = open_rows::<ContractRow<'_>>(response, ctx, out) else {
            continue;
        };
        out.records.reserve(rows.len());
        for row in &rows {
            let Some(instrument) = ctx.instrument(row.name) else {
                unknown.add(row.name);
                continue;
            };
            out.records
                .push(funding_record(row, instrument, response.received_ts));
        }
    }
    unknown.report(
        out,
        "of funding rows not listed by the last instruments cycle",
    );
}

fn funding_record(row: &ContractRow<'_>, instrument: &Record, received_ts: i64) -> Record {
    let mut r = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    r.rate = row.funding_rate.into();
    // ccxt maps the indicative rate to `nextFundingRate`; whether Gate still computes a
    // separate next-period estimate is UNCONFIRMED (exchange-notes §4.5).
    r.predicted_rate = row.funding_rate_indicative.into();
    r.next_funding_ts = seconds_to_ms(row.funding_next_apply).into();
    r.mark = positive(row.mark_price);
    r.index = positive(row.index_price);
    let (hours, source) = match interval_hours(row.funding_interval) {
        Some(hours) => (hours, IntervalSource::REPORTED),
        None => match (instrument.interval_hours, instrument.interval_source) {
            (RSome(hours), RSome(source)) => (hours, source),
            (RSome(hours), RNone) => (hours, IntervalSource::REPORTED),
            _ => (DEFAULT_INTERVAL_HOURS, IntervalSource::DEFAULT),
        },
    };
    r.interval_hours = RSome(hours);
    r.interval_source = RSome(source);
    // `funding_rate_limit` is an explicit field, but whether it bounds the rate both ways is
    // UNCONFIRMED (exchange-notes §4.1): published as ± with its provenance in `extra`.
    if let Some(limit) = row.funding_rate_limit.filter(|l| *l > 0.0) {
        r.rate_cap = RSome(limit);
        r.rate_floor = RSome(-limit);
        r.push_extra(EXTRA_CAP_SOURCE, "funding_rate_limit");
    }
    r
}

// --- small helpers -----------------------------------------------------------------------------

fn positive(value: Option<f64>) -> ROption<f64> {
    value.filter(|v| *v > 0.0).into()
}

fn non_negative(value: Option<f64>) -> ROption<f64> {
    value.filter(|v| *v >= 0.0).into()
}
