//! Response parsing per data kind: Kraken Futures `instruments` and `tickers` rows →
//! normalized [`Record`]s, and the funding conversion from Kraken's ABSOLUTE rate.
//!
//! Owns: field mapping (which Kraken field fills which record field), which contracts are
//! collected (perpetuals: linear `PF_` and inverse `PI_` without a `lastTradingTime`; dated
//! futures and indices skipped and counted with plugin-kit's `SkippedSymbols`), symbols as ccxt
//! builds them (base = the symbol's middle part minus its `USD` quote, `XBT` → `BTC`; linear
//! settles in USD, inverse in the coin), contract units (`PF_` contracts are base coin, `PI_`
//! contracts USD), and the funding rules: `fundingRate` is an amount per contract per hour, so
//! the fraction is `fundingRate ÷ markPrice` on linear and `fundingRate × markPrice` on inverse
//! contracts (exchange-notes §13.1 and erratum 11); a relative field is used as served when a
//! ticker carries one; funding is hourly and settles at the next full hour after the answer's
//! `serverTime`.
//! Must not: classify failures itself (`errors.rs` describes the envelopes, plugin-kit's
//! `envelope::check` classifies), invent values (a missing input stays `RNone`, never 0; an
//! absolute rate is never published as a fraction), clamp rates, compute
//! `rate_8h`/`rate_annualized` (the host does), read a clock, or panic.

use plugin_api::{
    abi_stable::std_types::ROption, Context, HttpResponse, IntervalSource, MarketType, ParseOutput,
    PluginError, Record, RecordKind,
};
use plugin_kit::{
    check_json_body, envelope::check, json_from_body, snippet, symbols, time::iso8601_ms,
    SkippedSymbols,
};
use serde::Deserialize;

use crate::{
    errors::{KrakenErrorEnvelope, KrakenResultEnvelope},
    model::{InstrumentRow, InstrumentsBody, Str, TickerRow, TickersBody},
    requests::{KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS},
    CURRENCY_RENAMES,
};

/// `extra` key on instrument records: Kraken's `type` (`flexible_futures`, `futures_inverse`).
pub const EXTRA_CONTRACT_TYPE: &str = "contract_type";
/// `extra` key on instrument records: Kraken's `tradeable` flag (`true`/`false`).
pub const EXTRA_TRADEABLE: &str = "tradeable";
/// `extra` key on ticker records: `true` when Kraken marks the contract `suspended`.
pub const EXTRA_SUSPENDED: &str = "suspended";
/// `extra` key on linear ticker records: `open_interest_quote` is contracts × size × mark.
pub const EXTRA_OI_QUOTE_DERIVED: &str = "oi_quote_derived";
/// `extra` key on inverse ticker records: `open_interest_base` is the USD open interest ÷ mark.
pub const EXTRA_OI_BASE_DERIVED: &str = "oi_base_derived";
/// `extra` key on funding records: Kraken's absolute `fundingRate`, as served.
pub const EXTRA_FUNDING_RATE_ABSOLUTE: &str = "funding_rate_absolute";
/// `extra` key on funding records: how `rate` was obtained (one of the `CONVERSION_*` words).
pub const EXTRA_FUNDING_CONVERSION: &str = "funding_conversion";
/// `rate` is a relative field the ticker served.
pub const CONVERSION_SERVED_RELATIVE: &str = "served_relative";
/// `rate` is `fundingRate ÷ markPrice` (linear `PF_`: 1 contract = 1 coin).
pub const CONVERSION_DIVIDED_BY_MARK: &str = "absolute_divided_by_mark";
/// `rate` is `fundingRate × markPrice` (inverse `PI_`: 1 contract = 1 USD).
pub const CONVERSION_TIMES_MARK: &str = "absolute_times_mark";
/// `extra` key on funding records: `next_funding_ts` is the next full hour after the answer's
/// `serverTime` (Kraken's REST tickers state no settlement time).
pub const EXTRA_NEXT_FUNDING_DERIVED: &str = "next_funding_ts_derived";

/// Kraken Futures funds every perpetual every hour (ccxt `interval: '1h'`; exchange-notes §1.3).
pub const FUNDING_INTERVAL_HOURS: f64 = 1.0;
const HOUR_MS: i64 = 3_600_000;
/// Every Kraken Futures contract is quoted in USD (ccxt: `quoteId = 'usd'`, "always USD").
const QUOTE: &str = "USD";
/// Symbol prefixes: multi-collateral linear perpetual, inverse perpetual.
const LINEAR_PREFIX: &str = "PF_";
const INVERSE_PREFIX: &str = "PI_";
/// Contract types: the inverse one; every other tradeable type is linear (as ccxt reads them).
const INVERSE_TYPE: &str = "futures_inverse";
const LINEAR_TYPES: [&str; 2] = ["flexible_futures", "futures_vanilla"];
/// Index rows: `type` `spot index` / `settlement index`, symbols `in_…` / `rr_…`.
const INDEX_TYPE_WORD: &str = " index";
const INDEX_PREFIXES: [&str; 2] = ["in_", "rr_"];
/// The ticker tag of perpetual contracts.
const PERPETUAL_TAG: &str = "perpetual";

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx),
        KIND_TICKERS | KIND_FUNDING => parse_tickers(kind, responses, ctx),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (krakenfutures knows instruments, tickers, funding)"),
        )),
    }
}

/// The decoded body of one response, or its classified error: Kraken's error word first (under
/// any status), then `result`, then the shape of the body.
fn body<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<T, PluginError> {
    check::<KrakenErrorEnvelope>(response, ctx.now_ms)?;
    check::<KrakenResultEnvelope>(response, ctx.now_ms).map_err(|mut e| {
        // `{"result":"error","errors":[…]}` has no error word: show the body instead.
        if e.message.trim_end().ends_with(':') {
            e.message = format!("{} {}", e.message.trim_end(), snippet(response.body())).into();
        }
        e
    })?;
    let bytes = response.body();
    check_json_body(bytes, response.tag())?;
    json_from_body::<T>(bytes).map_err(|e| {
        PluginError::parse(
            response.tag(),
            format!("unexpected response body ({e}): {}", snippet(bytes)),
        )
    })
}

/// `Some(s)` unless `s` is empty or blank.
fn non_empty<'s>(s: &'s Str<'_>) -> Option<&'s str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// An ISO-8601 field as Unix ms.
fn iso(s: &Str<'_>) -> Option<i64> {
    iso8601_ms(non_empty(s)?)
}

fn mul(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? * b?).filter(|v| v.is_finite())
}

/// The quotient of two present values, with a positive, finite divisor.
fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let b = b.filter(|v| *v > 0.0 && v.is_finite())?;
    Some(a? / b).filter(|v| v.is_finite())
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The base currency ccxt reads from a symbol: the part after the first `_`, minus its
/// three-letter `USD` quote (`PF_XBTUSD` → `XBT`, `PF_AAPLxUSD` → `AAPLx`); `None` when the
/// symbol is not shaped so.
pub fn base_of(symbol: &str) -> Option<&str> {
    let market = symbol.split('_').nth(1)?;
    let split = market.len().checked_sub(QUOTE.len())?;
    let (base, quote) = (market.get(..split)?, market.get(split..)?);
    (!base.is_empty() && quote.eq_ignore_ascii_case(QUOTE)).then_some(base)
}

/// The funding rate as a fraction from Kraken's absolute amount per contract: linear
/// contracts (1 contract = 1 coin) pay `fraction × mark` USD, so the fraction is
/// `absolute ÷ mark`; inverse contracts (1 contract = 1 USD) pay `fraction ÷ mark` coin, so
/// the fraction is `absolute × mark` (exchange-notes §13.1: ccxt divides for both, wrong for
/// `PI_`). `None` without a positive mark.
pub fn relative_rate(absolute: f64, mark: f64, inverse: bool) -> Option<f64> {
    if !(mark > 0.0 && mark.is_finite()) {
        return None;
    }
    let rate = if inverse {
        absolute * mark
    } else {
        absolute / mark
    };
    rate.is_finite().then_some(rate)
}

/// The next full hour strictly after `ms`: when the current hourly funding settles.
pub fn next_full_hour(ms: i64) -> Option<i64> {
    ms.div_euclid(HOUR_MS).checked_add(1)?.checked_mul(HOUR_MS)
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

/// How an instrument row is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Linear,
    Inverse,
    /// Has a `lastTradingTime` (or a date part in its symbol): a dated future.
    Dated,
    /// `in_…`, `rr_…`, or a type naming an index.
    Index,
    /// A type this plugin does not know.
    Unknown,
}

fn classify(row: &InstrumentRow<'_>) -> Class {
    let symbol = row.symbol.trim();
    let contract_type = non_empty(&row.contract_type).unwrap_or("");
    if contract_type.contains(INDEX_TYPE_WORD)
        || INDEX_PREFIXES
            .iter()
            .any(|p| starts_with_ignore_case(symbol, p))
    {
        return Class::Index;
    }
    if non_empty(&row.last_trading_time).is_some() || symbol.split('_').count() > 2 {
        return Class::Dated;
    }
    match contract_type {
        INVERSE_TYPE => Class::Inverse,
        t if LINEAR_TYPES.contains(&t) => Class::Linear,
        "" if starts_with_ignore_case(symbol, INVERSE_PREFIX) => Class::Inverse,
        "" if starts_with_ignore_case(symbol, LINEAR_PREFIX) => Class::Linear,
        _ => Class::Unknown,
    }
}

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut dated = SkippedSymbols::new();
    let mut unknown = SkippedSymbols::new();
    let mut unusable = SkippedSymbols::new();
    for response in responses {
        let body = match body::<InstrumentsBody<'_>>(response, ctx) {
            Ok(body) => body,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if body.instruments.is_empty() {
            out.warn(format!(
                "[{}] Kraken Futures listed no instruments in a successful response",
                response.tag()
            ));
        }
        let server_ms = iso(&body.server_time);
        for row in &body.instruments {
            let inverse = match classify(row) {
                Class::Linear => false,
                Class::Inverse => true,
                Class::Dated => {
                    dated.add(&row.symbol);
                    continue;
                }
                // Indices are no contracts: not worth a warning every round.
                Class::Index => continue,
                Class::Unknown => {
                    unknown.add(&format!("{} ({})", row.symbol, row.contract_type));
                    continue;
                }
            };
            match instrument_record(row, inverse, server_ms, ctx, response.received_ts) {
                Some(record) => out.records.push(record),
                None => unusable.add(&row.symbol),
            }
        }
    }
    dated.report(&mut out, "dated futures (not perpetual)");
    unknown.report(&mut out, "of an unknown contract type");
    unusable.report(&mut out, "whose symbol names no `<BASE>USD` market");
    out
}

/// One instrument record; `None` when the symbol names no base.
fn instrument_record(
    row: &InstrumentRow<'_>,
    inverse: bool,
    server_ms: Option<i64>,
    ctx: &Context<'_>,
    received_ts: i64,
) -> Option<Record> {
    let base = base_of(row.symbol.trim())?;
    let (market_type, settle) = if inverse {
        (MarketType::INVERSE_PERPETUAL, base)
    } else {
        (MarketType::LINEAR_PERPETUAL, QUOTE)
    };
    let mut record = symbols::instrument_record(
        ctx,
        &row.symbol,
        base,
        QUOTE,
        settle,
        market_type,
        received_ts,
        CURRENCY_RENAMES,
    );
    record.contract_size = row
        .contract_size
        .filter(|v| *v > 0.0 && v.is_finite())
        .into();
    record.tick_size = row.tick_size.filter(|v| *v > 0.0 && v.is_finite()).into();
    let listing = iso(&row.opening_date);
    record.listing_ts = listing.into();
    if let Some(tradeable) = row.tradeable {
        let status = match (tradeable, listing, server_ms) {
            (true, ..) => "trading",
            (false, Some(opens), Some(now)) if opens > now => "pre_launch",
            (false, ..) => "halted",
        };
        record.status = ROption::RSome(status.into());
        record.push_extra(EXTRA_TRADEABLE, tradeable.to_string());
    }
    if let Some(cap) = row
        .max_relative_funding_rate
        .filter(|v| *v > 0.0 && v.is_finite())
    {
        record.rate_cap = ROption::RSome(cap);
        record.rate_floor = ROption::RSome(-cap);
    }
    if let Some(contract_type) = non_empty(&row.contract_type) {
        record.push_extra(EXTRA_CONTRACT_TYPE, contract_type);
    }
    Some(record)
}

// ------------------------------------------------------------------------------------------
// tickers and funding (one `tickers` answer)
// ------------------------------------------------------------------------------------------

/// A perpetual's ticker row: tagged `perpetual`, or, untagged, named `PF_`/`PI_`.
fn is_perpetual_row(row: &TickerRow<'_>) -> bool {
    match non_empty(&row.tag) {
        Some(tag) => tag.eq_ignore_ascii_case(PERPETUAL_TAG),
        None => {
            let symbol = row.symbol.trim();
            (starts_with_ignore_case(symbol, LINEAR_PREFIX)
                || starts_with_ignore_case(symbol, INVERSE_PREFIX))
                && symbol.split('_').count() == 2
        }
    }
}

/// What one round of tickers left out or could not convert.
struct Notes {
    not_perpetual: SkippedSymbols,
    unknown: SkippedSymbols,
    no_mark: SkippedSymbols,
}

fn parse_tickers(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut notes = Notes {
        not_perpetual: SkippedSymbols::new(),
        unknown: SkippedSymbols::new(),
        no_mark: SkippedSymbols::new(),
    };
    for response in responses {
        let body = match body::<TickersBody<'_>>(response, ctx) {
            Ok(body) => body,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        let server_ms = iso(&body.server_time);
        for row in &body.tickers {
            if !is_perpetual_row(row) {
                notes.not_perpetual.add(&row.symbol);
                continue;
            }
            let Some(instrument) = ctx.instrument(&row.symbol) else {
                notes.unknown.add(&row.symbol);
                continue;
            };
            let record = if kind == KIND_TICKERS {
                ticker_record(row, instrument, server_ms, response.received_ts)
            } else {
                funding_record(row, instrument, server_ms, response.received_ts, &mut notes)
            };
            out.records.push(record);
        }
    }
    notes.not_perpetual.report(
        &mut out,
        "that are dated futures or indices (not perpetual)",
    );
    notes.unknown.report(&mut out, "not in the instrument list");
    if let Some(w) = notes
        .no_mark
        .summary_as("absolute funding rate left unconverted (no mark price)")
    {
        out.warn(w);
    }
    out
}

fn is_inverse(instrument: &Record) -> bool {
    instrument.market_type == MarketType::INVERSE_PERPETUAL
}

fn ticker_record(
    row: &TickerRow<'_>,
    instrument: &Record,
    server_ms: Option<i64>,
    received_ts: i64,
) -> Record {
    let mut record = Record::for_instrument(RecordKind::TICKER, instrument, received_ts);
    record.exchange_ts = server_ms.into();
    record.last = row.last.into();
    record.bid = row.bid.into();
    record.ask = row.ask.into();
    record.mark = row.mark_price.into();
    record.index = row.index_price.into();
    if row.suspended == Some(true) {
        record.push_extra(EXTRA_SUSPENDED, "true");
    }
    let size = instrument.contract_size.into_option();
    // Volumes and open interest are in contracts: coins on `PF_`, USD on `PI_`.
    let volume = mul(row.vol24h, size);
    let open_interest = mul(row.open_interest, size);
    if is_inverse(instrument) {
        record.volume_24h_quote = volume.into();
        record.open_interest_quote = open_interest.into();
        let oi_base = div(open_interest, row.mark_price);
        if oi_base.is_some() {
            record.push_extra(EXTRA_OI_BASE_DERIVED, "true");
        }
        record.open_interest_base = oi_base.into();
    } else {
        record.volume_24h_base = volume.into();
        record.volume_24h_quote = row.volume_quote.into();
        record.open_interest_base = open_interest.into();
        let oi_quote = mul(open_interest, row.mark_price);
        if oi_quote.is_some() {
            record.push_extra(EXTRA_OI_QUOTE_DERIVED, "true");
        }
        record.open_interest_quote = oi_quote.into();
    }
    record
}

/// A rate as a fraction: the relative field when served, else the absolute one converted at
/// the row's mark price; with the word saying which.
fn fraction(
    relative: Option<f64>,
    absolute: Option<f64>,
    mark: Option<f64>,
    inverse: bool,
) -> Option<(f64, &'static str)> {
    if let Some(rate) = relative {
        return Some((rate, CONVERSION_SERVED_RELATIVE));
    }
    let rate = relative_rate(absolute?, mark?, inverse)?;
    let how = if inverse {
        CONVERSION_TIMES_MARK
    } else {
        CONVERSION_DIVIDED_BY_MARK
    };
    Some((rate, how))
}

fn funding_record(
    row: &TickerRow<'_>,
    instrument: &Record,
    server_ms: Option<i64>,
    received_ts: i64,
    notes: &mut Notes,
) -> Record {
    let mut record = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    let inverse = is_inverse(instrument);
    record.exchange_ts = server_ms.into();
    record.mark = row.mark_price.into();
    record.index = row.index_price.into();
    let current = fraction(
        row.relative_funding_rate,
        row.funding_rate,
        row.mark_price,
        inverse,
    );
    let predicted = fraction(
        row.relative_funding_rate_prediction,
        row.funding_rate_prediction,
        row.mark_price,
        inverse,
    );
    if current.is_none() && row.funding_rate.is_some() {
        notes.no_mark.add(&row.symbol);
    }
    record.rate = current.map(|(rate, _)| rate).into();
    record.predicted_rate = predicted.map(|(rate, _)| rate).into();
    if let Some((_, how)) = current {
        record.push_extra(EXTRA_FUNDING_CONVERSION, how);
    }
    if let Some(absolute) = row.funding_rate {
        record.push_extra(EXTRA_FUNDING_RATE_ABSOLUTE, absolute.to_string());
    }
    if let Some(next) = next_full_hour(server_ms.unwrap_or(received_ts)) {
        record.next_funding_ts = ROption::RSome(next);
        record.push_extra(EXTRA_NEXT_FUNDING_DERIVED, "true");
    }
    record.interval_hours = ROption::RSome(FUNDING_INTERVAL_HOURS);
    record.interval_source = ROption::RSome(IntervalSource::DEFAULT);
    record.rate_cap = instrument.rate_cap;
    record.rate_floor = instrument.rate_floor;
    record
}
