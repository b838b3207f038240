//! Response parsing per data kind: HTX rows → normalized [`Record`]s, the join of
//! `batch_merged` with `swap_open_interest`, and the funding settlement times.
//!
//! Owns: field mapping (which HTX field fills which record field), status normalization,
//! which contracts are perpetual (dated futures skipped and counted, plugin-kit's
//! `SkippedSymbols`), what `funding_time` means (exchange-notes §7.6 and erratum 10: the next
//! settlement when it lies ahead of the response, the last one when it lies behind), the
//! interval inferred from two settlements, and the per-swap v5 fallback when the legacy bulk
//! funding endpoint is gone.
//! Must not: classify failures itself (`errors.rs` describes the envelopes, plugin-kit
//! classifies), invent values (a missing input stays `RNone`, never 0), compute
//! `rate_8h`/`rate_annualized` (the host does), read a clock (the response's server time or
//! `received_ts` is "now"), panic, or let one bad response discard the records of the others.

use plugin_api::{
    abi_stable::std_types::ROption, Context, ErrorClass, HttpResponse, IntervalSource, MarketType,
    ParseOutput, PluginError, Record, RecordKind,
};
use plugin_kit::{
    envelope::{check, open, Envelope, Opened},
    hours_between, symbols,
    time::iso8601_ms,
    InstrumentTable, SkippedSymbols,
};
use serde::Deserialize;

use crate::{
    errors::{reclassify, HtxErrorEnvelope, HtxStatusEnvelope, HtxTicksEnvelope, HtxV5Envelope},
    model::{ContractRow, FundingRow, OpenInterestRow, Str, TickRow},
    requests::{
        funding_request_v5, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, TAG_FUNDING,
        TAG_FUNDING_PREFIX, TAG_OPEN_INTEREST, TAG_TICKERS,
    },
    CURRENCY_RENAMES,
};

/// `extra` key on instrument records: HTX's numeric `contract_status`.
pub const EXTRA_CONTRACT_STATUS: &str = "contract_status";
/// `extra` key on instrument records: `pair` (`BTC-USDT`).
pub const EXTRA_PAIR: &str = "pair";
/// `extra` key on funding records: which endpoint the row came from (`batch` or `v5`).
pub const EXTRA_FUNDING_SOURCE: &str = "funding_source";

/// `business_type` and `contract_type` of a perpetual swap.
const SWAP: &str = "swap";
/// `contract_status` of a trading contract.
const TRADING_STATUS: f64 = 1.0;
/// The interval HTX applies by default when nothing shows another (8 h).
const DEFAULT_INTERVAL_HOURS: f64 = 8.0;
/// `batch_merged`'s `vol` counts as quote turnover when it is within this factor of
/// base volume × last (erratum 9: the recorded example); otherwise it is contracts (§7, ccxt)
/// and is not used.
const TURNOVER_TOLERANCE: f64 = 2.0;

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx),
        KIND_TICKERS => parse_tickers(responses, ctx),
        KIND_FUNDING => parse_funding(responses, ctx),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (htx knows instruments, tickers, funding)"),
        )),
    }
}

/// The payload of a legacy-envelope response (`E` says where it sits), or its classified
/// error: an `err_code` body is classified by its code first.
fn legacy<'a, E: Envelope, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<Opened<T>, PluginError> {
    check::<HtxErrorEnvelope>(response, ctx.now_ms)
        .and_then(|()| open::<E, T>(response, ctx.now_ms))
        .map_err(|e| reclassify(e, response.status))
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

/// A perpetual swap: `business_type` (and `contract_type`) `swap` where given, and no
/// delivery date; a dated code (`BTC-USDT-211203`) never.
fn is_swap(contract_code: &str, business_type: &Str<'_>, contract_type: &Str<'_>) -> bool {
    let typed_swap = |t: &Str<'_>| non_empty(t).is_none_or(|t| t == SWAP);
    typed_swap(business_type) && typed_swap(contract_type) && contract_code.split('-').count() == 2
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut dated = SkippedSymbols::new();
    let mut unusable = SkippedSymbols::new();
    for response in responses {
        let rows = match legacy::<HtxStatusEnvelope, Vec<ContractRow<'_>>>(response, ctx) {
            Ok(opened) => opened.payload,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if rows.is_empty() {
            out.warn(format!(
                "[{}] HTX listed no contracts in a successful response",
                response.tag()
            ));
        }
        for row in &rows {
            if !is_swap(&row.contract_code, &row.business_type, &row.contract_type)
                || non_empty(&row.delivery_date).is_some()
            {
                dated.add(&row.contract_code);
                continue;
            }
            match instrument_record(row, ctx, response.received_ts) {
                Some(record) => out.records.push(record),
                None => unusable.add(&row.contract_code),
            }
        }
    }
    dated.report(&mut out, "dated futures (not perpetual)");
    unusable.report(&mut out, "whose contract code names no base and quote");
    out
}

/// One instrument record (linear: settled in the quote), or `None` without currencies.
fn instrument_record(row: &ContractRow<'_>, ctx: &Context<'_>, received_ts: i64) -> Option<Record> {
    let (code_base, quote) = row.contract_code.split_once('-')?;
    let base = non_empty(&row.symbol).unwrap_or(code_base);
    if base.is_empty() || quote.is_empty() {
        return None;
    }
    let mut record = symbols::instrument_record(
        ctx,
        &row.contract_code,
        base,
        quote,
        quote,
        MarketType::LINEAR_PERPETUAL,
        received_ts,
        CURRENCY_RENAMES,
    );
    record.contract_size = row.contract_size.filter(|v| *v > 0.0).into();
    record.tick_size = row.price_tick.filter(|v| *v > 0.0).into();
    if let Some(status) = row.contract_status {
        record.status = ROption::RSome(normalize_status(status).into());
        record.push_extra(EXTRA_CONTRACT_STATUS, format_status(status));
    }
    record.listing_ts = day_ms(&row.create_date).into();
    if let Some(pair) = non_empty(&row.pair) {
        record.push_extra(EXTRA_PAIR, pair);
    }
    Some(record)
}

fn format_status(status: f64) -> String {
    if status.fract() == 0.0 {
        format!("{}", status as i64)
    } else {
        status.to_string()
    }
}

/// HTX `contract_status` → the record's status vocabulary.
fn normalize_status(status: f64) -> String {
    match status as i64 {
        _ if status == TRADING_STATUS => "trading".to_owned(),
        0 => "delisted".to_owned(),
        2 => "pre_launch".to_owned(),
        3 | 4 => "halted".to_owned(),
        5..=8 => "settling".to_owned(),
        _ => format!("status_{}", format_status(status)),
    }
}

/// `YYYYMMDD` → the day's start in Unix ms (UTC); anything else is absent.
fn day_ms(date: &Str<'_>) -> Option<i64> {
    let d = date.trim();
    if d.len() != 8 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = d.split_at(4);
    let (month, day) = rest.split_at(2);
    iso8601_ms(&format!("{year}-{month}-{day}T00:00:00Z"))
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

/// One ticker record being joined; volumes are resolved at the end (they need the size).
struct Slot<'c> {
    instrument: &'c Record,
    record: Record,
    amount: Option<f64>,
    contracts: Option<f64>,
    turnover: Option<f64>,
    vol: Option<f64>,
}

impl<'c> Slot<'c> {
    fn of<'t>(
        slots: &'t mut InstrumentTable<'c, Slot<'c>>,
        raw_symbol: &str,
        received_ts: i64,
    ) -> Option<&'t mut Slot<'c>> {
        let slot = slots.entry(raw_symbol, |instrument| Slot {
            instrument,
            record: Record::for_instrument(RecordKind::TICKER, instrument, received_ts),
            amount: None,
            contracts: None,
            turnover: None,
            vol: None,
        })?;
        slot.record.received_ts = slot.record.received_ts.max(received_ts);
        Some(slot)
    }

    fn finish(self) -> Record {
        let mut record = self.record;
        let size = self
            .instrument
            .contract_size
            .into_option()
            .filter(|v| *v > 0.0);
        // Base: `amount`, else contracts × contract size (erratum 9).
        let base = self.amount.or_else(|| mul(self.contracts, size));
        record.volume_24h_base = base.into();
        // Quote: `trade_turnover`; else `vol` only where it is a turnover (≈ base × last).
        let vol_as_turnover = self.vol.filter(|vol| {
            mul(base, record.last.into_option()).is_some_and(|expected| {
                expected > 0.0
                    && *vol / expected <= TURNOVER_TOLERANCE
                    && expected / *vol <= TURNOVER_TOLERANCE
            })
        });
        record.volume_24h_quote = self.turnover.or(vol_as_turnover).into();
        record
    }
}

fn parse_tickers(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unknown = SkippedSymbols::new();
    let mut dated = SkippedSymbols::new();
    let mut slots = InstrumentTable::new(ctx);
    let no_type = Str::Borrowed("");
    for response in responses {
        let received_ts = response.received_ts;
        let result = match response.tag() {
            TAG_TICKERS => {
                legacy::<HtxTicksEnvelope, Vec<TickRow<'_>>>(response, ctx).map(|opened| {
                    for row in opened.payload {
                        if !is_swap(&row.contract_code, &row.business_type, &no_type) {
                            dated.add(&row.contract_code);
                            continue;
                        }
                        let Some(slot) = Slot::of(&mut slots, &row.contract_code, received_ts)
                        else {
                            unknown.add(&row.contract_code);
                            continue;
                        };
                        slot.record.last = row.close.into();
                        slot.record.bid = row.bid.and_then(|level| level.0).into();
                        slot.record.ask = row.ask.and_then(|level| level.0).into();
                        slot.record.exchange_ts = row.ts.into();
                        slot.amount = row.amount;
                        slot.contracts = row.number_of;
                        slot.turnover = row.trade_turnover;
                        slot.vol = row.vol;
                    }
                })
            }
            TAG_OPEN_INTEREST => {
                legacy::<HtxStatusEnvelope, Vec<OpenInterestRow<'_>>>(response, ctx).map(|opened| {
                    for row in opened.payload {
                        if !is_swap(&row.contract_code, &row.business_type, &no_type) {
                            dated.add(&row.contract_code);
                            continue;
                        }
                        let Some(slot) = Slot::of(&mut slots, &row.contract_code, received_ts)
                        else {
                            unknown.add(&row.contract_code);
                            continue;
                        };
                        slot.record.open_interest_base = row.amount.into();
                        slot.record.open_interest_quote = row.value.into();
                    }
                })
            }
            other => {
                out.warn(format!(
                    "ignored a response with an unexpected tag `{other}`"
                ));
                continue;
            }
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

/// Which endpoint a funding row came from.
#[derive(Clone, Copy)]
enum FundingSource {
    /// Legacy `swap_batch_funding_rate`.
    Batch,
    /// `v5/market/funding_rate?contract_code=`.
    V5,
}

impl FundingSource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::V5 => "v5",
        }
    }
}

fn parse_funding(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unknown = SkippedSymbols::new();
    let mut dated = SkippedSymbols::new();
    let no_type = Str::Borrowed("");
    for response in responses {
        let tag = response.tag();
        let (opened, source) = if tag.starts_with(TAG_FUNDING_PREFIX) {
            (
                open::<HtxV5Envelope, Vec<FundingRow<'_>>>(response, ctx.now_ms)
                    .map_err(|e| reclassify(e, response.status)),
                FundingSource::V5,
            )
        } else {
            (
                legacy::<HtxStatusEnvelope, Vec<FundingRow<'_>>>(response, ctx),
                FundingSource::Batch,
            )
        };
        let opened = match opened {
            Ok(opened) => opened,
            Err(e) if tag == TAG_FUNDING && bulk_is_gone(&e) => {
                let requests: Vec<_> = ctx
                    .instruments
                    .iter()
                    .filter(|i| is_trading(i))
                    .map(|i| funding_request_v5(i.raw_symbol.as_str()))
                    .collect();
                if requests.is_empty() {
                    out.errors.push(e);
                    continue;
                }
                out.warn(format!(
                    "bulk funding unavailable ({e}); asking v5 for the {} trading swaps one by one",
                    requests.len()
                ));
                out.next_requests.extend(requests);
                continue;
            }
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        // "Now" for the settlement times: the server's time of the answer, else its arrival.
        let now = opened.time_ms.unwrap_or(response.received_ts);
        for row in &opened.payload {
            if !is_swap(&row.contract_code, &no_type, &no_type) {
                dated.add(&row.contract_code);
                continue;
            }
            match ctx.instrument(&row.contract_code) {
                Some(instrument) => out.records.push(funding_record(
                    row,
                    instrument,
                    response.received_ts,
                    now,
                    opened.time_ms,
                    source,
                )),
                None => unknown.add(&row.contract_code),
            }
        }
    }
    dated.report(&mut out, "dated futures (not perpetual)");
    unknown.report(&mut out, "not in the instrument list");
    out
}

/// The legacy bulk endpoint is being removed (API migration, §7.5): a permanent refusal (404,
/// 410, an `err_code`) of it switches the round to per-swap v5 requests.
fn bulk_is_gone(e: &PluginError) -> bool {
    e.class == ErrorClass::PERMANENT
}

fn is_trading(instrument: &Record) -> bool {
    matches!(instrument.status.as_ref().into_option(), Some(s) if s.as_str() == "trading")
}

/// The settlement of the current rate and the interval, from HTX's two times.
///
/// v5 (§7.6) and the emulator: `funding_time` is ahead of the answer — the settlement of the
/// current rate — and `next_funding_time` the one after. The recorded legacy batch example
/// (erratum 10) has `funding_time` 19 h *behind* the answer: then it is the last settlement
/// and `next_funding_time`, when ahead, is the current period's. The naive reading (the
/// cryptofeed one: `next_funding_time` as the next settlement) is one period off.
fn settlement(row: &FundingRow<'_>, now: i64) -> (Option<i64>, Option<f64>) {
    let interval = row
        .funding_time
        .zip(row.next_funding_time)
        .and_then(|(a, b)| hours_between(a, b));
    match (row.funding_time, row.next_funding_time) {
        (Some(current), _) if current > now => (Some(current), interval),
        (_, Some(next)) if next > now => (Some(next), interval),
        _ => (None, interval),
    }
}

fn funding_record(
    row: &FundingRow<'_>,
    instrument: &Record,
    received_ts: i64,
    now: i64,
    server_ts: Option<i64>,
    source: FundingSource,
) -> Record {
    let mut record = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    record.exchange_ts = server_ts.into();
    record.rate = row.funding_rate.into();
    let (next, interval) = settlement(row, now);
    record.next_funding_ts = next.into();
    let (hours, interval_source) = match interval {
        Some(hours) => (hours, IntervalSource::INFERRED),
        None => (DEFAULT_INTERVAL_HOURS, IntervalSource::DEFAULT),
    };
    record.interval_hours = ROption::RSome(hours);
    record.interval_source = ROption::RSome(interval_source);
    // Caps exist in v5 rows only; HTX publishes no predicted rate (`estimated_rate` is null).
    record.rate_cap = row.max_funding_rate.into();
    record.rate_floor = row.min_funding_rate.into();
    record.push_extra(EXTRA_FUNDING_SOURCE, source.as_str());
    record
}
