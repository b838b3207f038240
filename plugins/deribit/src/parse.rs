//! Response parsing per data kind: Deribit rows → normalized [`Record`]s, merged across the
//! per-currency answers of one round; inverse and linear units; continuous funding.
//!
//! Owns: field mapping (which Deribit field fills which record field), which instruments are
//! perpetual (`kind: future` with `settlement_period: perpetual`; dated futures skipped and
//! counted with plugin-kit's `SkippedSymbols`), inverse vs linear open-interest units, and the
//! funding figure published (`funding_8h`, 8 h `default`, no settlement time).
//! Must not: classify failures itself (`errors.rs` does), invent values (a missing input stays
//! `RNone`, never 0; no next funding time is made up for continuous funding), compute
//! `rate_8h`/`rate_annualized` (the host does), read a clock, panic, or let one currency's bad
//! answer discard the records of the others.

use plugin_api::{
    abi_stable::std_types::ROption, Context, HttpResponse, IntervalSource, MarketType, ParseOutput,
    PluginError, Record, RecordKind,
};
use plugin_kit::{symbols, SkippedSymbols};

use crate::{
    errors::open_result,
    model::{InstrumentRow, Str, SummaryRow},
    requests::{KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS},
    CURRENCY_RENAMES, FUNDING_FIGURE_HOURS,
};

/// `extra` key on instrument records: the index the instrument margins on (`btc_usd`).
pub const EXTRA_PRICE_INDEX: &str = "price_index";
/// `extra` key on instrument records: Deribit's maximum leverage.
pub const EXTRA_MAX_LEVERAGE: &str = "max_leverage";
/// `extra` key on inverse ticker records: `open_interest_base` is the USD open interest ÷ mark.
pub const EXTRA_OI_BASE_DERIVED: &str = "oi_base_derived";
/// `extra` key on linear ticker records: `open_interest_quote` is open interest × mark.
pub const EXTRA_OI_QUOTE_DERIVED: &str = "oi_quote_derived";
/// `extra` key on funding records: which Deribit figure `rate` is.
pub const EXTRA_RATE_FIGURE: &str = "rate_figure";
/// Its value: the 8-hour equivalent `funding_8h`.
pub const FUNDING_8H_FIGURE: &str = "funding_8h";
/// `extra` key on funding records: Deribit's instantaneous `current_funding`, as served.
pub const EXTRA_CURRENT_FUNDING: &str = "current_funding";

/// Deribit's `kind` of futures (perpetual or dated).
const FUTURE_KIND: &str = "future";
/// `settlement_period` of a perpetual.
const PERPETUAL_PERIOD: &str = "perpetual";
/// The name suffix of a perpetual, for summary rows (they carry no settlement period).
const PERPETUAL_SUFFIX: &str = "-PERPETUAL";
/// `instrument_type` of inverse contracts.
const REVERSED_TYPE: &str = "reversed";
/// Expiries at or after this (2100-01-01) are Deribit's "never" (perpetuals show year 3000).
const NO_EXPIRY_FROM_MS: i64 = 4_102_444_800_000;

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx),
        KIND_TICKERS => parse_summaries(responses, ctx, ticker_record),
        KIND_FUNDING => parse_summaries(responses, ctx, funding_record),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (deribit knows instruments, tickers, funding)"),
        )),
    }
}

/// `Some(s)` unless `s` is missing, empty or blank.
fn non_empty<'s>(s: &'s Option<Str<'_>>) -> Option<&'s str> {
    s.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// The product of two present, finite values.
fn mul(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? * b?).filter(|v| v.is_finite())
}

/// The quotient of two present values, with a positive, finite divisor.
fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let b = b.filter(|v| *v > 0.0)?;
    Some(a? / b).filter(|v| v.is_finite())
}

/// A perpetual: a future whose settlement period is `perpetual` (ccxt's rule).
fn is_perpetual(row: &InstrumentRow<'_>) -> bool {
    non_empty(&row.kind) == Some(FUTURE_KIND)
        && non_empty(&row.settlement_period) == Some(PERPETUAL_PERIOD)
}

/// Inverse when Deribit says `reversed`; without a type, when it settles in its base coin.
fn is_inverse(row: &InstrumentRow<'_>) -> bool {
    match non_empty(&row.instrument_type) {
        Some(t) => t == REVERSED_TYPE,
        None => non_empty(&row.settlement_currency) == non_empty(&row.base_currency),
    }
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut dated = SkippedSymbols::new();
    let mut other = SkippedSymbols::new();
    let mut unusable = SkippedSymbols::new();
    for response in responses {
        let rows = match open_result::<Vec<InstrumentRow<'_>>>(response, ctx.now_ms) {
            Ok(rows) => rows,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        for row in &rows {
            if !is_perpetual(row) {
                if non_empty(&row.kind) == Some(FUTURE_KIND) {
                    dated.add(&row.instrument_name);
                } else {
                    other.add(&row.instrument_name);
                }
                continue;
            }
            match instrument_record(row, ctx, response.received_ts) {
                Some(record) => out.records.push(record),
                None => unusable.add(&row.instrument_name),
            }
        }
    }
    dated.report(&mut out, "dated futures (not perpetual)");
    other.report(&mut out, "options and combos (not futures)");
    unusable.report(&mut out, "without base/quote/settlement currencies");
    out
}

/// One instrument record, or `None` when the row does not name its currencies.
fn instrument_record(
    row: &InstrumentRow<'_>,
    ctx: &Context<'_>,
    received_ts: i64,
) -> Option<Record> {
    let base = non_empty(&row.base_currency)?;
    // ccxt's quote is `counter_currency` (`USD` on inverse, `USDC` on linear perpetuals).
    let quote = non_empty(&row.counter_currency).or_else(|| non_empty(&row.quote_currency))?;
    let settle = non_empty(&row.settlement_currency)?;
    let market_type = if is_inverse(row) {
        MarketType::INVERSE_PERPETUAL
    } else {
        MarketType::LINEAR_PERPETUAL
    };
    let mut record = symbols::instrument_record(
        ctx,
        &row.instrument_name,
        base,
        quote,
        settle,
        market_type,
        received_ts,
        CURRENCY_RENAMES,
    );
    record.contract_size = row.contract_size.filter(|v| *v > 0.0).into();
    record.tick_size = row.tick_size.filter(|v| *v > 0.0).into();
    record.status = row
        .is_active
        .map(|active| if active { "trading" } else { "inactive" }.into())
        .into();
    record.listing_ts = row.creation_timestamp.into();
    // Perpetuals carry an expiry in the year 3000: that is "never", not a delisting date.
    record.delisting_ts = row
        .expiration_timestamp
        .filter(|ts| *ts < NO_EXPIRY_FROM_MS)
        .into();
    if let Some(index) = non_empty(&row.price_index) {
        record.push_extra(EXTRA_PRICE_INDEX, index);
    }
    if let Some(leverage) = row.max_leverage {
        record.push_extra(EXTRA_MAX_LEVERAGE, leverage.to_string());
    }
    Some(record)
}

// ------------------------------------------------------------------------------------------
// tickers and funding: book summaries, one answer per currency
// ------------------------------------------------------------------------------------------

/// Builds one record of a summary row of a known perpetual; `None` when the row has nothing
/// for this kind.
type Build = fn(&SummaryRow<'_>, &Record, i64) -> Option<Record>;

fn parse_summaries(responses: &[HttpResponse<'_>], ctx: &Context<'_>, build: Build) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut dated = SkippedSymbols::new();
    let mut unknown = SkippedSymbols::new();
    let mut empty = SkippedSymbols::new();
    for response in responses {
        let rows = match open_result::<Vec<SummaryRow<'_>>>(response, ctx.now_ms) {
            Ok(rows) => rows,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        for row in &rows {
            let Some(instrument) = ctx.instrument(&row.instrument_name) else {
                if row.instrument_name.ends_with(PERPETUAL_SUFFIX) {
                    unknown.add(&row.instrument_name);
                } else {
                    dated.add(&row.instrument_name);
                }
                continue;
            };
            match build(row, instrument, response.received_ts) {
                Some(record) => out.records.push(record),
                None => empty.add(&row.instrument_name),
            }
        }
    }
    dated.report(&mut out, "dated futures (not perpetual)");
    unknown.report(&mut out, "not in the instrument list");
    empty.report(&mut out, "without the figures of this kind");
    out
}

fn ticker_record(row: &SummaryRow<'_>, instrument: &Record, received_ts: i64) -> Option<Record> {
    let mut record = Record::for_instrument(RecordKind::TICKER, instrument, received_ts);
    record.exchange_ts = row.creation_timestamp.into();
    record.last = row.last.into();
    record.bid = row.bid_price.into();
    record.ask = row.ask_price.into();
    record.mark = row.mark_price.into();
    // A perpetual never delivers: its estimated delivery price is the index price.
    record.index = row.estimated_delivery_price.into();
    record.volume_24h_base = row.volume.into();
    record.volume_24h_quote = row.volume_usd.into();
    let mark = row.mark_price;
    if instrument.market_type == MarketType::INVERSE_PERPETUAL {
        // Inverse: open interest in USD (contracts × USD contract size).
        record.open_interest_quote = row.open_interest.into();
        let base = div(row.open_interest, mark);
        if base.is_some() {
            record.push_extra(EXTRA_OI_BASE_DERIVED, "true");
        }
        record.open_interest_base = base.into();
    } else {
        // Linear: open interest in the base coin (UNCONFIRMED, exchange-notes §11.1).
        record.open_interest_base = row.open_interest.into();
        let quote = mul(row.open_interest, mark);
        if quote.is_some() {
            record.push_extra(EXTRA_OI_QUOTE_DERIVED, "true");
        }
        record.open_interest_quote = quote.into();
    }
    Some(record)
}

/// Continuous funding: `rate` is `funding_8h` (the 8-hour equivalent), 8 h `default`, no
/// settlement time (Deribit settles every instant, there is none to report); `current_funding`
/// goes to `extra`. A row without `funding_8h` gives no funding record.
fn funding_record(row: &SummaryRow<'_>, instrument: &Record, received_ts: i64) -> Option<Record> {
    let rate = row.funding_8h?;
    let mut record = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    record.exchange_ts = row.creation_timestamp.into();
    record.rate = ROption::RSome(rate);
    record.interval_hours = ROption::RSome(FUNDING_FIGURE_HOURS);
    record.interval_source = ROption::RSome(IntervalSource::DEFAULT);
    record.push_extra(EXTRA_RATE_FIGURE, FUNDING_8H_FIGURE);
    if let Some(current) = row.current_funding {
        record.push_extra(EXTRA_CURRENT_FUNDING, current.to_string());
    }
    Some(record)
}
