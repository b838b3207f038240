//! Response parsing per data kind: KuCoin Futures rows → normalized [`Record`]s, the join of
//! `contracts/active` with `allTickers`, contract-size and inverse-unit conversions, and the
//! funding timing (countdown vs absolute time, reported interval).
//!
//! Owns: field mapping (which KuCoin field fills which record field), status normalization,
//! which contracts are perpetual (dated futures skipped and counted, plugin-kit's
//! `SkippedSymbols`), unit conversions (nanosecond ticker `ts`, contracts × multiplier, inverse
//! volumes that KuCoin reports in USD and coin the other way round).
//! Must not: classify failures itself (`errors.rs` describes the envelope, plugin-kit's
//! `envelope::open` classifies), invent values (a missing input stays `RNone`, never 0),
//! compute `rate_8h`/`rate_annualized` (the host does), read a clock (a countdown is made
//! absolute with the response's `received_ts`), panic, or let one bad response discard the
//! records of the others.

use plugin_api::{
    abi_stable::std_types::ROption, Context, HttpResponse, IntervalSource, MarketType, ParseOutput,
    PluginError, Record, RecordKind,
};
use plugin_kit::{
    envelope::open,
    symbols,
    time::{countdown_to_ms, TimeUnit},
    InstrumentTable, SkippedSymbols,
};
use serde::Deserialize;

use crate::{
    errors::KucoinEnvelope,
    model::{ContractRow, Str, TickerRow},
    requests::{KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, TAG_ALL_TICKERS, TAG_CONTRACTS},
    CURRENCY_RENAMES,
};

/// `extra` key: KuCoin's own contract `status` (`Open`, `Paused`, ...).
pub const EXTRA_RAW_STATUS: &str = "raw_status";
/// `extra` key on instrument records: the funding index (`.XBTUSDTMFPI8H`).
pub const EXTRA_FUNDING_RATE_SYMBOL: &str = "funding_rate_symbol";
/// `extra` key on linear ticker records: `open_interest_quote` is open interest × mark (KuCoin
/// serves contracts only).
pub const EXTRA_OI_QUOTE_DERIVED: &str = "oi_quote_derived";
/// `extra` key on inverse ticker records: `open_interest_base` is the USD open interest ÷ mark.
pub const EXTRA_OI_BASE_DERIVED: &str = "oi_base_derived";

/// KuCoin's contract type code of perpetual swaps ("FFWCSX"); dated futures use another one.
const PERPETUAL_TYPE: &str = "FFWCSX";
/// The status of a tradable contract.
const OPEN_STATUS: &str = "Open";
/// Milliseconds per hour (funding granularities are in ms).
const MS_PER_HOUR: f64 = 3_600_000.0;
/// The interval KuCoin applies when a row reports none (its default schedule: 8 h).
const DEFAULT_INTERVAL_HOURS: f64 = 8.0;
/// A converted ticker time before this (2015-01-01) is not a nanosecond time at all (KuCoin's
/// docs example writes milliseconds there): absent rather than a date in 1970.
const EARLIEST_PLAUSIBLE_MS: i64 = 1_420_070_400_000;

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx),
        KIND_TICKERS => parse_tickers(responses, ctx),
        KIND_FUNDING => parse_funding(responses, ctx),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (kucoinfutures knows instruments, tickers, funding)"),
        )),
    }
}

/// The `data` rows of one response, or its classified error.
fn data_rows<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<Vec<T>, PluginError> {
    open::<KucoinEnvelope, Vec<T>>(response, ctx.now_ms).map(|opened| opened.payload)
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

/// The quotient of two present values, with a positive, finite divisor.
fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let b = b.filter(|v| *v > 0.0)?;
    Some(a? / b).filter(|v| v.is_finite())
}

/// A perpetual swap, by KuCoin's type code; a row without one is perpetual when it has no
/// expiry and a funding countdown (ccxt's rule: no `nextFundingRateTime` ⇒ future).
fn is_perpetual(row: &ContractRow<'_>) -> bool {
    if row.expire_date.is_some() {
        return false;
    }
    match non_empty(&row.contract_type) {
        Some(code) => code == PERPETUAL_TYPE,
        None => row.next_funding_rate_time.is_some(),
    }
}

/// Inverse when KuCoin says so; without `isInverse`, when it settles in its base coin.
fn is_inverse(row: &ContractRow<'_>) -> bool {
    row.is_inverse
        .unwrap_or_else(|| non_empty(&row.settle_currency) == non_empty(&row.base_currency))
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut dated = SkippedSymbols::new();
    let mut unusable = SkippedSymbols::new();
    for response in responses {
        let rows = match data_rows::<ContractRow<'_>>(response, ctx) {
            Ok(rows) => rows,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if rows.is_empty() {
            out.warn(format!(
                "[{}] KuCoin listed no contracts in a successful response",
                response.tag()
            ));
        }
        for row in &rows {
            if !is_perpetual(row) {
                dated.add(&row.symbol);
                continue;
            }
            match instrument_record(row, ctx, response.received_ts) {
                Some(record) => out.records.push(record),
                None => unusable.add(&row.symbol),
            }
        }
    }
    dated.report(&mut out, "dated futures (not perpetual)");
    unusable.report(&mut out, "without base/quote/settle currencies");
    out
}

/// One instrument record, or `None` when the row does not name its currencies.
fn instrument_record(row: &ContractRow<'_>, ctx: &Context<'_>, received_ts: i64) -> Option<Record> {
    let base = non_empty(&row.base_currency)?;
    let quote = non_empty(&row.quote_currency)?;
    let settle = non_empty(&row.settle_currency)?;
    let market_type = if is_inverse(row) {
        MarketType::INVERSE_PERPETUAL
    } else {
        MarketType::LINEAR_PERPETUAL
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
    // Linear: base per contract; inverse: USD per contract, written negative (`-1`).
    record.contract_size = row
        .multiplier
        .map(f64::abs)
        .filter(|v| *v > 0.0 && v.is_finite())
        .into();
    record.tick_size = row.tick_size.filter(|v| *v > 0.0).into();
    if let Some(status) = non_empty(&row.status) {
        record.status = ROption::RSome(normalize_status(status).into());
        record.push_extra(EXTRA_RAW_STATUS, status);
    }
    record.listing_ts = row.first_open_date.into();
    if let Some(index) = non_empty(&row.funding_rate_symbol) {
        record.push_extra(EXTRA_FUNDING_RATE_SYMBOL, index);
    }
    Some(record)
}

/// KuCoin `status` → the record's status vocabulary; other words pass through lower-cased.
fn normalize_status(status: &str) -> String {
    match status {
        OPEN_STATUS => "trading".to_owned(),
        "Paused" => "halted".to_owned(),
        "PrepareSettled" | "BeingSettled" | "Settled" => "settling".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

/// One ticker record being joined; contract counts are converted at the end.
struct Slot<'c> {
    instrument: &'c Record,
    record: Record,
    /// `openInterest`: contracts.
    oi_contracts: Option<f64>,
    /// `volumeOf24h`: base (linear) or USD (inverse).
    volume: Option<f64>,
    /// `turnoverOf24h`: quote (linear) or coin (inverse).
    turnover: Option<f64>,
}

impl<'c> Slot<'c> {
    fn new(instrument: &'c Record, received_ts: i64) -> Self {
        Slot {
            instrument,
            record: Record::for_instrument(RecordKind::TICKER, instrument, received_ts),
            oi_contracts: None,
            volume: None,
            turnover: None,
        }
    }

    /// The slot of `raw_symbol` (`None`: not in ctx); its `received_ts` is the latest of the
    /// responses that contributed to it.
    fn of<'t>(
        slots: &'t mut InstrumentTable<'c, Slot<'c>>,
        raw_symbol: &str,
        received_ts: i64,
    ) -> Option<&'t mut Slot<'c>> {
        let slot = slots.entry(raw_symbol, |i| Slot::new(i, received_ts))?;
        slot.record.received_ts = slot.record.received_ts.max(received_ts);
        Some(slot)
    }

    /// Applies the contract size and KuCoin's per-type volume units.
    fn finish(self) -> Record {
        let mut record = self.record;
        let contract_size = self
            .instrument
            .contract_size
            .into_option()
            .filter(|v| *v > 0.0);
        let mark = record.mark.into_option();
        if self.instrument.market_type == MarketType::INVERSE_PERPETUAL {
            // Inverse (errata 12): `volumeOf24h` is USD, `turnoverOf24h` the coin; a contract
            // is `contract_size` USD.
            record.volume_24h_base = self.turnover.into();
            record.volume_24h_quote = self.volume.into();
            let oi_quote = mul(self.oi_contracts, contract_size);
            record.open_interest_quote = oi_quote.into();
            let oi_base = div(oi_quote, mark);
            if oi_base.is_some() {
                record.push_extra(EXTRA_OI_BASE_DERIVED, "true");
            }
            record.open_interest_base = oi_base.into();
        } else {
            record.volume_24h_base = self.volume.into();
            record.volume_24h_quote = self.turnover.into();
            let oi_base = mul(self.oi_contracts, contract_size);
            record.open_interest_base = oi_base.into();
            let oi_quote = mul(oi_base, mark);
            if oi_quote.is_some() {
                record.push_extra(EXTRA_OI_QUOTE_DERIVED, "true");
            }
            record.open_interest_quote = oi_quote.into();
        }
        record
    }
}

/// A ticker `ts` in nanoseconds as Unix ms; implausibly early results are absent.
fn ticker_ts_ms(ts: Option<i64>) -> Option<i64> {
    TimeUnit::Nanos
        .to_ms(ts?)
        .filter(|ms| *ms >= EARLIEST_PLAUSIBLE_MS)
}

fn parse_tickers(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unknown = SkippedSymbols::new();
    let mut dated = SkippedSymbols::new();
    let mut slots = InstrumentTable::new(ctx);
    // contracts/active first: allTickers' last trade then overrides `lastTradePrice`.
    let mut ordered: Vec<&HttpResponse<'_>> = Vec::with_capacity(responses.len());
    for response in responses {
        match response.tag() {
            TAG_CONTRACTS => ordered.insert(0, response),
            TAG_ALL_TICKERS => ordered.push(response),
            other => out.warn(format!(
                "ignored a response with an unexpected tag `{other}`"
            )),
        }
    }
    for response in ordered {
        let received_ts = response.received_ts;
        let result = if response.tag() == TAG_CONTRACTS {
            data_rows::<ContractRow<'_>>(response, ctx).map(|rows| {
                for row in rows {
                    if !is_perpetual(&row) {
                        dated.add(&row.symbol);
                        continue;
                    }
                    let Some(slot) = Slot::of(&mut slots, &row.symbol, received_ts) else {
                        unknown.add(&row.symbol);
                        continue;
                    };
                    slot.record.mark = row.mark_price.into();
                    slot.record.index = row.index_price.into();
                    if slot.record.last.is_none() {
                        slot.record.last = row.last_trade_price.into();
                    }
                    slot.oi_contracts = row.open_interest;
                    slot.volume = row.volume_of24h;
                    slot.turnover = row.turnover_of24h;
                }
            })
        } else {
            data_rows::<TickerRow<'_>>(response, ctx).map(|rows| {
                for row in rows {
                    // Dated futures are listed here too, and are not in ctx.
                    let Some(slot) = Slot::of(&mut slots, &row.symbol, received_ts) else {
                        unknown.add(&row.symbol);
                        continue;
                    };
                    if row.price.is_some() {
                        slot.record.last = row.price.into();
                    }
                    slot.record.bid = row.best_bid_price.into();
                    slot.record.ask = row.best_ask_price.into();
                    slot.record.exchange_ts = ticker_ts_ms(row.ts).into();
                }
            })
        };
        if let Err(e) = result {
            out.errors.push(e);
        }
    }
    out.records.reserve(slots.len());
    out.records.extend(slots.into_values().map(Slot::finish));
    dated.report(&mut out, "dated futures (not perpetual)");
    unknown.report(&mut out, "not in the instrument list");
    out
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

fn parse_funding(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unknown = SkippedSymbols::new();
    let mut dated = SkippedSymbols::new();
    for response in responses {
        let rows = match data_rows::<ContractRow<'_>>(response, ctx) {
            Ok(rows) => rows,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        for row in &rows {
            if !is_perpetual(row) {
                dated.add(&row.symbol);
                continue;
            }
            match ctx.instrument(&row.symbol) {
                Some(instrument) => {
                    out.records
                        .push(funding_record(row, instrument, response.received_ts));
                }
                None => unknown.add(&row.symbol),
            }
        }
    }
    dated.report(&mut out, "dated futures (not perpetual)");
    unknown.report(&mut out, "not in the instrument list");
    out
}

/// The next settlement: `nextFundingRateDateTime` when KuCoin sends it, else the countdown
/// `nextFundingRateTime` counted from when the response arrived (it is NOT a timestamp).
fn next_funding_ts(row: &ContractRow<'_>, received_ts: i64) -> Option<i64> {
    row.next_funding_rate_date_time.or_else(|| {
        let remaining = row
            .next_funding_rate_time
            .filter(|v| v.is_finite())?
            .round();
        // A countdown beyond i64 ms is nonsense; `as` saturates, countdown_to_ms rejects it.
        countdown_to_ms(received_ts, remaining as i64)
    })
}

/// The interval of the current period in hours from a granularity in ms.
fn granularity_hours(ms: Option<i64>) -> Option<f64> {
    ms.map(|ms| ms as f64 / MS_PER_HOUR).filter(|h| *h > 0.0)
}

fn funding_record(row: &ContractRow<'_>, instrument: &Record, received_ts: i64) -> Record {
    let mut record = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    record.rate = row.funding_fee_rate.into();
    record.predicted_rate = row.predicted_funding_fee_rate.into();
    record.next_funding_ts = next_funding_ts(row, received_ts).into();
    // The running period's granularity first (it settles at next_funding_ts), then the
    // contract's; both are KuCoin's own fields. Rows without either (older responses, the
    // recorded docs example) get KuCoin's default 8 h, marked DEFAULT.
    let (hours, source) = match granularity_hours(row.current_funding_rate_granularity)
        .or_else(|| granularity_hours(row.funding_rate_granularity))
    {
        Some(hours) => (hours, IntervalSource::REPORTED),
        None => (DEFAULT_INTERVAL_HOURS, IntervalSource::DEFAULT),
    };
    record.interval_hours = ROption::RSome(hours);
    record.interval_source = ROption::RSome(source);
    record.rate_cap = row.funding_rate_cap.into();
    record.rate_floor = row.funding_rate_floor.into();
    record
}
