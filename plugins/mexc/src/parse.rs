//! Response parsing per data kind: MEXC contract rows → normalized [`Record`]s.
//!
//! Owns: field mapping (which MEXC field fills which record field), contract-size conversions
//! (`volume24` and `holdVol` are contracts), the funding interval from `collectCycle` (hours),
//! state normalization, and which contracts are skipped (hidden, dated, unusable; one warning
//! per call, plugin-kit's `SkippedSymbols`).
//! Must not: classify failures itself (`errors.rs` describes the envelope, plugin-kit's
//! `envelope::open` classifies), invent values (a missing input stays `RNone`, never 0),
//! compute `rate_8h`/`rate_annualized` (the host does), panic, or let one bad response discard
//! the records of the others.
//!
//! Assumptions (UNCONFIRMED in the notes, taken from the recordings and ccxt):
//! - inverse contracts (`BTC_USD`, settled in BTC): `contractSize` is USD per contract and
//!   `amount24` the turnover in the coin, so quote volume = `volume24 × contractSize` and base
//!   volume = `amount24`; open interest in USD = `holdVol × contractSize`;
//! - `futureType` 1 is perpetual; any other value (and a `_YYMMDD` symbol) is a dated contract;
//! - a funding row without `collectCycle` has no interval (the host then applies the plugin's
//!   default, marked `default`), never a hard-coded 8 h.

use plugin_api::{
    abi_stable::std_types::ROption, Context, ErrorClass, HttpResponse, IntervalSource, MarketType,
    ParseOutput, PluginError, Record, RecordKind,
};
use plugin_kit::{envelope::open, symbols, SkippedSymbols};
use serde::Deserialize;

use crate::{
    errors::MexcEnvelope,
    model::{DetailRow, FundingRow, Str, TickerRow},
    requests::{KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS},
    CURRENCY_RENAMES,
};

/// `extra` key on instrument records: MEXC's numeric `state`.
pub const EXTRA_RAW_STATE: &str = "raw_state";
/// `extra` key on instrument records: `apiAllowed` when `false`.
pub const EXTRA_API_ALLOWED: &str = "api_allowed";
/// `extra` key on ticker records: the `fundingRate` the ticker repeats.
pub const EXTRA_TICKER_FUNDING_RATE: &str = "funding_rate";
/// `extra` key on ticker records: the open interest's other side was derived with the mark.
pub const EXTRA_OI_QUOTE_DERIVED: &str = "oi_quote_derived";
const EXTRA_OI_BASE_DERIVED: &str = "oi_base_derived";

/// `futureType` of a perpetual contract.
const PERPETUAL_FUTURE_TYPE: f64 = 1.0;

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx),
        KIND_TICKERS => parse_tickers(responses, ctx),
        KIND_FUNDING => parse_funding(responses, ctx),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (mexc knows instruments, tickers, funding)"),
        )),
    }
}

/// The `data` rows of one response, or its classified error. `data` is a list without
/// `symbol=`; with it MEXC answers one object, accepted as a list of one.
fn data_rows<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<Vec<T>, PluginError> {
    match open::<MexcEnvelope, Vec<T>>(response, ctx.now_ms) {
        Ok(opened) => Ok(opened.payload),
        Err(e) if e.class == ErrorClass::PARSE => open::<MexcEnvelope, T>(response, ctx.now_ms)
            .map(|one| vec![one.payload])
            .map_err(|_| e),
        Err(e) => Err(e),
    }
}

/// `Some(s)` unless `s` is empty or blank.
fn non_empty<'s>(s: &'s Str<'_>) -> Option<&'s str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// The product of two present, finite values.
fn mul(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? * b?).filter(|v| v.is_finite())
}

/// The quotient of two present values, when finite.
fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?).filter(|v| v.is_finite())
}

/// True for a `_YYMMDD` suffix (`BTC_USDT_250627`).
fn dated_symbol(symbol: &str) -> bool {
    symbol
        .rsplit('_')
        .next()
        .is_some_and(|last| last.len() == 6 && last.bytes().all(|b| b.is_ascii_digit()))
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut hidden = SkippedSymbols::new();
    let mut dated = SkippedSymbols::new();
    let mut unusable = SkippedSymbols::new();
    for response in responses {
        let rows = match data_rows::<DetailRow<'_>>(response, ctx) {
            Ok(rows) => rows,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if rows.is_empty() {
            out.warn(format!(
                "[{}] MEXC listed no contracts in a successful response",
                response.tag()
            ));
        }
        for row in &rows {
            if row.is_hidden == Some(true) {
                hidden.add(&row.symbol);
            } else if row.future_type.is_some_and(|t| t != PERPETUAL_FUTURE_TYPE)
                || dated_symbol(&row.symbol)
            {
                dated.add(&row.symbol);
            } else {
                match instrument_record(row, ctx, response.received_ts) {
                    Some(record) => out.records.push(record),
                    None => unusable.add(&row.symbol),
                }
            }
        }
    }
    hidden.report(&mut out, "hidden (isHidden)");
    dated.report(
        &mut out,
        "dated (futureType or a date suffix), not perpetual",
    );
    unusable.report(&mut out, "without usable base/quote/settle coins");
    out
}

fn instrument_record(row: &DetailRow<'_>, ctx: &Context<'_>, received_ts: i64) -> Option<Record> {
    let base = non_empty(&row.base_coin)?;
    let quote = non_empty(&row.quote_coin)?;
    let settle = non_empty(&row.settle_coin)?;
    let market_type = if settle == quote {
        MarketType::LINEAR_PERPETUAL
    } else if settle == base {
        MarketType::INVERSE_PERPETUAL
    } else {
        return None;
    };
    let mut record = symbols::instrument_record(
        ctx,
        &row.symbol,
        base,
        quote,
        settle,
        market_type,
        received_ts,
        CURRENCY_RENAMES,
    );
    record.contract_size = row.contract_size.filter(|v| *v > 0.0).into();
    record.tick_size = row.price_unit.filter(|v| *v > 0.0).into();
    if let Some(state) = row.state {
        record.status = ROption::RSome(normalize_state(state).into());
        record.push_extra(EXTRA_RAW_STATE, format!("{state}"));
    }
    record.listing_ts = row.opening_time.into();
    if row.api_allowed == Some(false) {
        record.push_extra(EXTRA_API_ALLOWED, "false");
    }
    Some(record)
}

/// MEXC `state` → the record's status vocabulary; unknown numbers pass through.
fn normalize_state(state: f64) -> String {
    match state as i64 {
        0 => "trading".to_owned(),
        1 => "settling".to_owned(),
        2 | 3 => "delisted".to_owned(),
        4 => "halted".to_owned(),
        _ => format!("{state}"),
    }
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

fn parse_tickers(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unknown = SkippedSymbols::new();
    for response in responses {
        match data_rows::<TickerRow<'_>>(response, ctx) {
            Ok(rows) => {
                for row in &rows {
                    match ctx.instrument(&row.symbol) {
                        Some(instrument) => {
                            out.records
                                .push(ticker_record(row, instrument, response.received_ts))
                        }
                        None => unknown.add(&row.symbol),
                    }
                }
            }
            Err(e) => out.errors.push(e),
        }
    }
    unknown.report(&mut out, "not in the instrument list");
    out
}

fn ticker_record(row: &TickerRow<'_>, instrument: &Record, received_ts: i64) -> Record {
    let mut record = Record::for_instrument(RecordKind::TICKER, instrument, received_ts);
    record.exchange_ts = row.timestamp.into();
    record.last = row.last_price.into();
    record.bid = row.bid1.into();
    record.ask = row.ask1.into();
    record.mark = row.fair_price.into();
    record.index = row.index_price.into();
    let contract_size = instrument.contract_size.into_option().filter(|v| *v > 0.0);
    if instrument.market_type == MarketType::INVERSE_PERPETUAL {
        // A contract is `contractSize` USD; `amount24` is the coin turnover (see module docs).
        record.volume_24h_base = row.amount24.into();
        record.volume_24h_quote = mul(row.volume24, contract_size).into();
        let oi_quote = mul(row.hold_vol, contract_size);
        record.open_interest_quote = oi_quote.into();
        let oi_base = div(oi_quote, row.fair_price.filter(|p| *p > 0.0));
        record.open_interest_base = oi_base.into();
        if oi_base.is_some() {
            record.push_extra(EXTRA_OI_BASE_DERIVED, "true");
        }
    } else {
        record.volume_24h_base = mul(row.volume24, contract_size).into();
        record.volume_24h_quote = row.amount24.into();
        let oi_base = mul(row.hold_vol, contract_size);
        record.open_interest_base = oi_base.into();
        let oi_quote = mul(oi_base, row.fair_price);
        record.open_interest_quote = oi_quote.into();
        if oi_quote.is_some() {
            record.push_extra(EXTRA_OI_QUOTE_DERIVED, "true");
        }
    }
    if let Some(rate) = row.funding_rate {
        record.push_extra(EXTRA_TICKER_FUNDING_RATE, format!("{rate}"));
    }
    record
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

fn parse_funding(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unknown = SkippedSymbols::new();
    for response in responses {
        match data_rows::<FundingRow<'_>>(response, ctx) {
            Ok(rows) => {
                for row in &rows {
                    match ctx.instrument(&row.symbol) {
                        Some(instrument) => {
                            out.records
                                .push(funding_record(row, instrument, response.received_ts))
                        }
                        None => unknown.add(&row.symbol),
                    }
                }
            }
            Err(e) => out.errors.push(e),
        }
    }
    unknown.report(&mut out, "not in the instrument list");
    out
}

fn funding_record(row: &FundingRow<'_>, instrument: &Record, received_ts: i64) -> Record {
    let mut record = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    record.exchange_ts = row.timestamp.into();
    record.rate = row.funding_rate.into();
    record.next_funding_ts = row.next_settle_time.into();
    // `collectCycle` is the interval in hours, per contract (1, 4, 8): reported.
    if let Some(hours) = row.collect_cycle.filter(|h| *h > 0.0) {
        record.interval_hours = ROption::RSome(hours);
        record.interval_source = ROption::RSome(IntervalSource::REPORTED);
    }
    record.rate_cap = row.max_funding_rate.into();
    record.rate_floor = row.min_funding_rate.into();
    record
}
