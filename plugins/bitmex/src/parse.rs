//! Response parsing per data kind: BitMEX `instrument/active` rows → normalized [`Record`]s.
//!
//! Owns: field mapping (which BitMEX field fills which record field), which rows are collected
//! (perpetual `FFWCSX`/`FFSCSX` rows without expiry; dated futures, spot and quanto contracts
//! skipped and counted with plugin-kit's `SkippedSymbols`), the settle currencies' minor units
//! (`XBt` = satoshi ÷ 1e8, `USDt` = micro-USDT ÷ 1e6) for money fields (`openValue`,
//! `turnover24h`), contract sizes (inverse: USD per contract from `multiplier`; linear: base per
//! contract from `underlyingToPositionMultiplier`), and the funding interval BitMEX writes as a
//! date (`2000-01-01T08:00:00.000Z` = 8 h after 2000-01-01).
//! Must not: classify failures itself (`errors.rs` describes the envelope, plugin-kit's
//! `envelope::check` classifies), invent values (a missing input stays `RNone`, never 0),
//! compute `rate_8h`/`rate_annualized` (the host does), read a clock, panic, or let one bad
//! response discard the records of the others.

use plugin_api::{
    abi_stable::std_types::ROption, Context, HttpResponse, IntervalSource, MarketType, ParseOutput,
    PluginError, Record, RecordKind,
};
use plugin_kit::{
    check_json_body, envelope::check, json_from_body, snippet, symbols, time::iso8601_ms,
    SkippedSymbols,
};

use crate::{
    errors::BitmexEnvelope,
    model::{InstrumentRow, Str},
    requests::{KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS},
    CURRENCY_RENAMES,
};

/// `extra` key: BitMEX's own `state` (`Open`, `Closed`, ...).
pub const EXTRA_RAW_STATUS: &str = "raw_status";
/// `extra` key on instrument records: BitMEX's contract class code (`FFWCSX`).
pub const EXTRA_TYP: &str = "typ";

/// BitMEX's class code of perpetual contracts.
const PERPETUAL_TYP: &str = "FFWCSX";
/// A second perpetual class code ccxt also treats as a swap (exchange-notes §12.1).
const PERPETUAL_TYP_ALT: &str = "FFSCSX";
/// The state of a tradable contract.
const OPEN_STATE: &str = "Open";
/// `fundingInterval` is a timespan written as the time this long after 2000-01-01T00:00:00Z.
const TIMESPAN_EPOCH_MS: i64 = 946_684_800_000;
const MS_PER_HOUR: f64 = 3_600_000.0;
/// BitMEX's funding interval when a row does not state one (its perpetuals settle every 8 h).
const DEFAULT_INTERVAL_HOURS: f64 = 8.0;

/// Settle currencies BitMEX writes in minor units: (its code, unified code, minor units per
/// unit). UNCONFIRMED for any settle currency beyond these two (exchange-notes §17): another
/// code is upper-cased and its money fields (`openValue`, `turnover24h`) are left absent.
const MINOR_UNITS: [(&str, &str, f64); 2] = [("XBt", "XBT", 1e8), ("USDt", "USDT", 1e6)];

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS | KIND_TICKERS | KIND_FUNDING => parse_rows(kind, responses, ctx),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (bitmex knows instruments, tickers, funding)"),
        )),
    }
}

/// The rows of one response, or its classified error.
fn rows<'a>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<Vec<InstrumentRow<'a>>, PluginError> {
    check::<BitmexEnvelope>(response, ctx.now_ms)?;
    let body = response.body();
    check_json_body(body, response.tag())?;
    json_from_body::<Vec<InstrumentRow<'a>>>(body).map_err(|e| {
        PluginError::parse(
            response.tag(),
            format!("unexpected response body ({e}): {}", snippet(body)),
        )
    })
}

/// `Some(s)` unless `s` is empty or blank.
fn non_empty<'s>(s: &'s Str<'_>) -> Option<&'s str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// The settle currency's code to unify, and its minor units per unit when known.
pub fn settle_currency(raw: &str) -> (String, Option<f64>) {
    match MINOR_UNITS.iter().find(|(code, ..)| *code == raw) {
        Some((_, unified, scale)) => ((*unified).to_owned(), Some(*scale)),
        None => (raw.to_ascii_uppercase(), None),
    }
}

/// A money field in settle minor units as settle units; absent when the scale is unknown.
fn from_minor(value: Option<f64>, scale: Option<f64>) -> Option<f64> {
    Some(value? / scale?).filter(|v| v.is_finite())
}

fn mul(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? * b?).filter(|v| v.is_finite())
}

/// How a row is handled.
enum Class {
    Linear,
    Inverse,
    /// Dated futures, spot pairs, anything not perpetual.
    NotPerpetual,
    /// Quoted in one currency, settled in a third (`ETHUSD` settled in XBt): the record ABI has
    /// no market type for it (linear must settle in the quote, inverse in the base).
    Quanto,
}

fn classify(row: &InstrumentRow<'_>) -> Class {
    let perpetual = matches!(non_empty(&row.typ), Some(PERPETUAL_TYP | PERPETUAL_TYP_ALT))
        && non_empty(&row.expiry).is_none();
    if !perpetual {
        Class::NotPerpetual
    } else if row.is_quanto == Some(true) {
        Class::Quanto
    } else if row.is_inverse == Some(true) {
        Class::Inverse
    } else {
        Class::Linear
    }
}

/// The funding interval in hours from BitMEX's date-encoded timespan.
pub fn interval_hours(encoded: &str) -> Option<f64> {
    let ms = iso8601_ms(encoded)?.checked_sub(TIMESPAN_EPOCH_MS)?;
    Some(ms as f64 / MS_PER_HOUR).filter(|h| *h > 0.0)
}

/// An ISO-8601 field as Unix ms.
fn iso(s: &Str<'_>) -> Option<i64> {
    iso8601_ms(non_empty(s)?)
}

/// What the rows of one round hold that is not collected.
struct Skipped {
    not_perpetual: SkippedSymbols,
    quanto: SkippedSymbols,
    unusable: SkippedSymbols,
    unknown: SkippedSymbols,
}

impl Skipped {
    fn report(&self, out: &mut ParseOutput) {
        self.not_perpetual
            .report(out, "dated futures and spot (not perpetual)");
        self.quanto.report(
            out,
            "quanto perpetuals (settled in a third currency: no market type for them)",
        );
        self.unusable.report(
            out,
            "without underlying/quote/settle currencies or settling outside them",
        );
        self.unknown.report(out, "not in the instrument list");
    }
}

fn parse_rows(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut skipped = Skipped {
        not_perpetual: SkippedSymbols::new(),
        quanto: SkippedSymbols::new(),
        unusable: SkippedSymbols::new(),
        unknown: SkippedSymbols::new(),
    };
    for response in responses {
        let rows = match rows(response, ctx) {
            Ok(rows) => rows,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if rows.is_empty() && kind == KIND_INSTRUMENTS {
            out.warn(format!(
                "[{}] BitMEX listed no instruments in a successful response",
                response.tag()
            ));
        }
        let received = response.received_ts;
        for row in &rows {
            let inverse = match classify(row) {
                Class::Linear => false,
                Class::Inverse => true,
                Class::NotPerpetual => {
                    skipped.not_perpetual.add(&row.symbol);
                    continue;
                }
                Class::Quanto => {
                    skipped.quanto.add(&row.symbol);
                    continue;
                }
            };
            if kind == KIND_INSTRUMENTS {
                match instrument_record(row, inverse, ctx, received) {
                    Some(record) => out.records.push(record),
                    None => skipped.unusable.add(&row.symbol),
                }
                continue;
            }
            let Some(instrument) = ctx.instrument(&row.symbol) else {
                skipped.unknown.add(&row.symbol);
                continue;
            };
            out.records.push(if kind == KIND_TICKERS {
                ticker_record(row, instrument, received)
            } else {
                funding_record(row, instrument, received)
            });
        }
    }
    skipped.report(&mut out);
    out
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

/// Contract size: inverse contracts are worth `|multiplier|` settle minor units × price, i.e.
/// `|multiplier| / scale` USD (XBTUSD: -1e8 satoshi → 1 USD); linear ones hold
/// `1 / underlyingToPositionMultiplier` of the base coin.
fn contract_size(row: &InstrumentRow<'_>, inverse: bool, scale: Option<f64>) -> Option<f64> {
    let size = if inverse {
        from_minor(row.multiplier.map(f64::abs), scale)
    } else {
        row.underlying_to_position_multiplier
            .filter(|m| *m > 0.0)
            .map(|m| 1.0 / m)
    };
    size.filter(|v| *v > 0.0 && v.is_finite())
}

/// One instrument record, or `None` when the row does not name its currencies or an inverse
/// contract does not settle in its base (a linear one in its quote).
fn instrument_record(
    row: &InstrumentRow<'_>,
    inverse: bool,
    ctx: &Context<'_>,
    received_ts: i64,
) -> Option<Record> {
    let base = non_empty(&row.underlying)?;
    let quote = non_empty(&row.quote_currency)?;
    let (settle, scale) = settle_currency(non_empty(&row.settl_currency)?);
    let market_type = if inverse {
        MarketType::INVERSE_PERPETUAL
    } else {
        MarketType::LINEAR_PERPETUAL
    };
    let record = symbols::instrument_record(
        ctx,
        &row.symbol,
        base,
        quote,
        &settle,
        market_type,
        received_ts,
        CURRENCY_RENAMES,
    );
    let settles_in = if inverse { &record.base } else { &record.quote };
    if record.settle != *settles_in {
        return None;
    }
    let mut record = record;
    record.contract_size = contract_size(row, inverse, scale).into();
    record.tick_size = row.tick_size.filter(|v| *v > 0.0).into();
    if let Some(state) = non_empty(&row.state) {
        record.status = ROption::RSome(normalize_state(state).into());
        record.push_extra(EXTRA_RAW_STATUS, state);
    }
    record.listing_ts = iso(&row.listing).into();
    if let Some(hours) = non_empty(&row.funding_interval).and_then(interval_hours) {
        record.interval_hours = ROption::RSome(hours);
        record.interval_source = ROption::RSome(IntervalSource::REPORTED);
    }
    if let Some(typ) = non_empty(&row.typ) {
        record.push_extra(EXTRA_TYP, typ);
    }
    Some(record)
}

/// BitMEX `state` → the record's status vocabulary; other words pass through lower-cased.
fn normalize_state(state: &str) -> String {
    match state {
        OPEN_STATE => "trading".to_owned(),
        "Closed" => "halted".to_owned(),
        "Unlisted" => "pre_launch".to_owned(),
        "Settled" => "delisted".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

fn ticker_record(row: &InstrumentRow<'_>, instrument: &Record, received_ts: i64) -> Record {
    let mut record = Record::for_instrument(RecordKind::TICKER, instrument, received_ts);
    let scale = non_empty(&row.settl_currency).and_then(|c| settle_currency(c).1);
    record.exchange_ts = iso(&row.timestamp).into();
    record.last = row.last_price.into();
    record.bid = row.bid_price.into();
    record.ask = row.ask_price.into();
    record.mark = row.mark_price.into();
    record.index = row.index_price.or(row.indicative_settle_price).into();
    // homeNotional24h is base, foreignNotional24h quote; `turnover24h` (settle minor units) is
    // the fallback for the settle side (inverse: base; linear: quote).
    let turnover = from_minor(row.turnover24h, scale);
    let inverse = instrument.market_type == MarketType::INVERSE_PERPETUAL;
    let (base_fallback, quote_fallback) = if inverse {
        (turnover, None)
    } else {
        (None, turnover)
    };
    record.volume_24h_base = row.home_notional24h.or(base_fallback).into();
    record.volume_24h_quote = row.foreign_notional24h.or(quote_fallback).into();
    // Open interest: contracts × contract size on the contract's side (inverse: USD; linear:
    // base), `openValue` in settle minor units on the settle side (inverse: base; linear: quote).
    let size = instrument.contract_size.into_option();
    let in_contracts = mul(row.open_interest, size);
    let in_settle = from_minor(row.open_value, scale);
    let (oi_base, oi_quote) = if inverse {
        (in_settle, in_contracts)
    } else {
        (in_contracts, in_settle)
    };
    record.open_interest_base = oi_base.into();
    record.open_interest_quote = oi_quote.into();
    record
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

fn funding_record(row: &InstrumentRow<'_>, instrument: &Record, received_ts: i64) -> Record {
    let mut record = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    record.exchange_ts = iso(&row.timestamp).into();
    record.rate = row.funding_rate.into();
    record.predicted_rate = row.indicative_funding_rate.into();
    record.next_funding_ts = iso(&row.funding_timestamp).into();
    let (hours, source) = match non_empty(&row.funding_interval).and_then(interval_hours) {
        Some(hours) => (hours, IntervalSource::REPORTED),
        None => (DEFAULT_INTERVAL_HOURS, IntervalSource::DEFAULT),
    };
    record.interval_hours = ROption::RSome(hours);
    record.interval_source = ROption::RSome(source);
    record
}
