//! Responses → records, per kind: instruments, tickers and funding.
//!
//! Owns: the field mapping from Bitget rows onto [`Record`], unit conversions (tick size from
//! `priceEndStep` × 10^-`pricePlace`, the quote side of open interest derived with the mark
//! price), status normalization, skipping rows that are not collected (dated delivery contracts,
//! symbols missing from `ctx`) and summarising them in one warning per call.
//! Must not: classify transport or envelope failures (`errors.rs` describes the envelope,
//! plugin-kit's `envelope::open` classifies), set `rate_8h` / `rate_annualized` (the host
//! computes them), write 0 for a missing value, or panic.
//!
//! Funding comes from the bulk `current-fund-rate` call alone: rate, interval
//! (`fundingRateInterval`, hours), next settlement (`nextUpdate`) and cap/floor
//! (`maxFundingRate`/`minFundingRate`) in one row. The tickers' `fundingRate` has no settlement
//! time (ccxt issue 26315) and is not used.

use abi_stable::std_types::ROption::{self, RNone, RSome};
use plugin_api::{
    Context, HttpResponse, IntervalSource, MarketType, ParseOutput, PluginError, Record, RecordKind,
};
use plugin_kit::{
    envelope::{open, Opened},
    symbols, SkippedSymbols,
};

use crate::errors::BitgetEnvelope;
use crate::model::{ContractRow, FundRateRow, TickerRow};
use crate::requests::{unknown_kind, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS};
use crate::CURRENCY_RENAMES;

/// `extra` key: Bitget's own `symbolStatus` word.
pub const EXTRA_RAW_STATUS: &str = "raw_status";
/// `extra` key on tickers: `open_interest_quote` is `holdingAmount` × `markPrice`, not served.
pub const EXTRA_OI_QUOTE_DERIVED: &str = "oi_quote_derived";

/// `symbolType` of perpetual contracts.
const PERPETUAL: &str = "perpetual";
/// `symbolType` of dated contracts.
const DELIVERY: &str = "delivery";
/// Dated contracts are named `BTCUSDT_250328` (the expiry after an underscore).
const DATED_SEPARATOR: char = '_';
/// Bitget's default funding interval when nothing states one (8 h).
const DEFAULT_INTERVAL_HOURS: f64 = 8.0;

/// The largest `pricePlace` taken as decimals (beyond it 10^-n underflows any real tick).
const MAX_PRICE_PLACE: f64 = 18.0;

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

/// Opens one response as a non-empty list of rows; pushes the error and gives `None` otherwise.
fn open_rows<'a, T: serde::Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
    out: &mut ParseOutput,
) -> Option<(Vec<T>, Option<i64>)> {
    match open::<BitgetEnvelope, Vec<T>>(response, ctx.now_ms) {
        Ok(Opened { payload, .. }) if payload.is_empty() => {
            out.errors.push(PluginError::parse(
                response.tag(),
                "empty `data` (every linear product type lists contracts)",
            ));
            None
        }
        Ok(Opened { payload, time_ms }) => Some((payload, time_ms)),
        Err(error) => {
            out.errors.push(error);
            None
        }
    }
}

/// Whether a symbol is a dated contract by its name (`BTCUSDT_250328`).
fn dated_by_name(symbol: &str) -> bool {
    symbol.contains(DATED_SEPARATOR)
}

// --- instruments -------------------------------------------------------------------------------

/// Rows left out while parsing instruments, reported once per call.
#[derive(Default)]
struct InstrumentNotes {
    dated: SkippedSymbols,
    unknown_type: SkippedSymbols,
    incomplete: SkippedSymbols,
}

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>, out: &mut ParseOutput) {
    let mut notes = InstrumentNotes::default();
    for response in responses {
        let Some((rows, time)) = open_rows::<ContractRow<'_>>(response, ctx, out) else {
            continue;
        };
        out.records.reserve(rows.len());
        for row in &rows {
            if let Some(record) =
                instrument_record(row, ctx, response.received_ts, time, &mut notes)
            {
                out.records.push(record);
            }
        }
    }
    notes
        .dated
        .report(out, "of dated delivery contracts (not collected)");
    notes.unknown_type.report(
        out,
        "of contracts with a symbolType other than perpetual/delivery",
    );
    notes
        .incomplete
        .report(out, "of contracts without symbol, baseCoin or quoteCoin");
}

fn instrument_record(
    row: &ContractRow<'_>,
    ctx: &Context<'_>,
    received_ts: i64,
    exchange_ts: Option<i64>,
    notes: &mut InstrumentNotes,
) -> Option<Record> {
    let symbol = row.symbol.trim();
    if symbol.is_empty() {
        notes.incomplete.add("(empty symbol)");
        return None;
    }
    match row.symbol_type.map(str::trim) {
        // A perpetual by type may still be a dated row by name or delivery time (errata 3):
        // never label such a row perpetual.
        Some(PERPETUAL) if !dated_by_name(symbol) && row.delivery_time.is_none() => {}
        Some(PERPETUAL) | Some(DELIVERY) => {
            notes.dated.add(symbol);
            return None;
        }
        Some(other) => {
            notes.unknown_type.add(&format!("{symbol} ({other})"));
            return None;
        }
        None => {
            notes.unknown_type.add(&format!("{symbol} (no symbolType)"));
            return None;
        }
    }
    let (Some(base), Some(quote)) = (non_empty(row.base_coin), non_empty(row.quote_coin)) else {
        notes.incomplete.add(symbol);
        return None;
    };
    let settle = settle_coin(row, base, quote);

    let mut r = symbols::instrument_record(
        ctx,
        symbol,
        base,
        quote,
        settle,
        MarketType::LINEAR_PERPETUAL,
        received_ts,
        CURRENCY_RENAMES,
    );
    r.exchange_ts = exchange_ts.into();
    // Bitget sizes USDT/USDC contracts in the base coin: one contract is one unit of base
    // (ccxt sets contractSize 1).
    r.contract_size = RSome(1.0);
    r.tick_size = tick_size(row.price_end_step, row.price_place).into();
    if let Some(raw) = non_empty(row.symbol_status) {
        r.status = RSome(normalize_status(raw).into());
        r.push_extra(EXTRA_RAW_STATUS, raw);
    }
    r.listing_ts = row.launch_time.into();
    r.delisting_ts = row.off_time.into();
    if let Some(hours) = row.fund_interval.filter(|h| *h > 0.0) {
        r.interval_hours = RSome(hours);
        r.interval_source = RSome(IntervalSource::REPORTED);
    }
    Some(r)
}

/// The settle coin: the margin coin that is the quote (or the base, for coin-margined rows),
/// else the quote.
fn settle_coin<'a>(row: &ContractRow<'a>, base: &'a str, quote: &'a str) -> &'a str {
    let coins = row.support_margin_coins.as_deref().unwrap_or_default();
    coins
        .iter()
        .map(|c| c.trim())
        .find(|c| *c == quote || *c == base)
        .unwrap_or(quote)
}

/// Tick = `priceEndStep` × 10^-`pricePlace` (`"5"`, `"2"` → 0.05).
fn tick_size(end_step: Option<f64>, place: Option<f64>) -> Option<f64> {
    let step = end_step.filter(|s| *s > 0.0)?;
    let place = place.filter(|p| (0.0..=MAX_PRICE_PLACE).contains(p) && p.fract() == 0.0)?;
    let tick = step / 10f64.powf(place);
    // Round away binary noise (5 × 10^-2 = 0.05000000000000000277).
    let scale = 10f64.powf(place);
    Some((tick * scale).round() / scale).filter(|t| *t > 0.0)
}

/// Bitget's `symbolStatus` → the record's vocabulary; unknown words are lower-cased.
fn normalize_status(raw: &str) -> String {
    match raw {
        "normal" => "trading".to_owned(),
        "listed" => "pre_launch".to_owned(),
        "maintain" => "halted".to_owned(),
        "limit_open" => "limit_open".to_owned(),
        "restrictedAPI" => "restricted".to_owned(),
        "off" => "delisted".to_owned(),
        other => other.to_lowercase(),
    }
}

// --- tickers -----------------------------------------------------------------------------------

/// Rows of tickers or funding left out, reported once per call.
#[derive(Default)]
struct RowNotes {
    dated: SkippedSymbols,
    unknown: SkippedSymbols,
}

impl RowNotes {
    /// The instrument of a row, or `None` (counted) for dated and unknown symbols.
    fn instrument<'c>(
        &mut self,
        ctx: &Context<'c>,
        symbol: &str,
        delivery_time: Option<i64>,
    ) -> Option<&'c Record> {
        if dated_by_name(symbol) || delivery_time.is_some() {
            self.dated.add(symbol);
            return None;
        }
        let found = ctx.instrument(symbol);
        if found.is_none() {
            self.unknown.add(symbol);
        }
        found
    }

    fn report(self, out: &mut ParseOutput, kind: &str) {
        self.dated
            .report(out, &format!("of {kind} rows of dated delivery contracts"));
        self.unknown.report(
            out,
            &format!("of {kind} rows not listed by the last instruments cycle"),
        );
    }
}

fn parse_tickers(responses: &[HttpResponse<'_>], ctx: &Context<'_>, out: &mut ParseOutput) {
    let mut notes = RowNotes::default();
    for response in responses {
        let Some((rows, _)) = open_rows::<TickerRow<'_>>(response, ctx, out) else {
            continue;
        };
        out.records.reserve(rows.len());
        for row in &rows {
            let Some(instrument) = notes.instrument(ctx, row.symbol, row.delivery_time) else {
                continue;
            };
            out.records
                .push(ticker_record(row, instrument, response.received_ts));
        }
    }
    notes.report(out, KIND_TICKERS);
}

fn ticker_record(row: &TickerRow<'_>, instrument: &Record, received_ts: i64) -> Record {
    let mut r = Record::for_instrument(RecordKind::TICKER, instrument, received_ts);
    r.exchange_ts = row.ts.into();
    r.last = price(row.last_pr);
    r.bid = price(row.bid_pr);
    r.ask = price(row.ask_pr);
    r.mark = price(row.mark_price);
    r.index = price(row.index_price);
    r.volume_24h_base = non_negative(row.base_volume);
    r.volume_24h_quote = non_negative(row.quote_volume);
    let oi_base = row.holding_amount.filter(|v| *v >= 0.0);
    r.open_interest_base = oi_base.into();
    if let (Some(oi), RSome(mark)) = (oi_base, r.mark) {
        r.open_interest_quote = RSome(oi * mark);
        r.push_extra(EXTRA_OI_QUOTE_DERIVED, "true");
    }
    r
}

// --- funding -----------------------------------------------------------------------------------

fn parse_funding(responses: &[HttpResponse<'_>], ctx: &Context<'_>, out: &mut ParseOutput) {
    let mut notes = RowNotes::default();
    for response in responses {
        let Some((rows, time)) = open_rows::<FundRateRow<'_>>(response, ctx, out) else {
            continue;
        };
        out.records.reserve(rows.len());
        for row in &rows {
            let Some(instrument) = notes.instrument(ctx, row.symbol, None) else {
                continue;
            };
            out.records
                .push(funding_record(row, instrument, response.received_ts, time));
        }
    }
    notes.report(out, KIND_FUNDING);
}

fn funding_record(
    row: &FundRateRow<'_>,
    instrument: &Record,
    received_ts: i64,
    exchange_ts: Option<i64>,
) -> Record {
    let mut r = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    r.exchange_ts = exchange_ts.into();
    r.rate = row.funding_rate.into();
    r.next_funding_ts = row.next_update.into();
    // The interval of this very row first; else the contracts' `fundInterval`; else the
    // protocol default, marked as such.
    let (hours, source) = match row.funding_rate_interval.filter(|h| *h > 0.0) {
        Some(hours) => (hours, IntervalSource::REPORTED),
        None => match (instrument.interval_hours, instrument.interval_source) {
            (RSome(hours), RSome(source)) => (hours, source),
            (RSome(hours), RNone) => (hours, IntervalSource::REPORTED),
            _ => (DEFAULT_INTERVAL_HOURS, IntervalSource::DEFAULT),
        },
    };
    r.interval_hours = RSome(hours);
    r.interval_source = RSome(source);
    r.rate_cap = row.max_funding_rate.into();
    r.rate_floor = row.min_funding_rate.into();
    r
}

// --- small helpers -----------------------------------------------------------------------------

/// A price: zero or negative is "no price" (an empty book or no trade yet), never a value.
fn price(value: Option<f64>) -> ROption<f64> {
    value.filter(|v| *v > 0.0).into()
}

/// A volume or amount: a served 0 is a value; a negative one is not.
fn non_negative(value: Option<f64>) -> ROption<f64> {
    value.filter(|v| *v >= 0.0).into()
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}
