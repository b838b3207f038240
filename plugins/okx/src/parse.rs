//! Response parsing per data kind: OKX rows → normalized [`Record`]s, the join of the ticker
//! endpoints by `instId`, contract-size conversions, and the `instId=ANY` funding fallback.
//!
//! Owns: field mapping (which OKX field fills which record field), status normalization,
//! base/quote conversions with the instrument's contract size, which symbols are skipped (one
//! warning per call, plugin-kit's `SkippedSymbols`).
//! Must not: classify failures itself (`errors.rs` describes the envelope, plugin-kit's
//! `envelope::open` classifies), invent values (a missing input stays
//! `RNone`, never 0), compute `rate_8h`/`rate_annualized` (the host does), panic, or let one bad
//! response discard the records of the others.

use std::{borrow::Cow, collections::HashMap};

use plugin_api::{
    abi_stable::std_types::ROption, Context, HttpResponse, IntervalSource, MarketType, ParseOutput,
    PluginError, Record, RecordKind,
};
use plugin_kit::{envelope::open, hours_between, symbols, InstrumentTable, SkippedSymbols};
use serde::Deserialize;

use crate::CURRENCY_RENAMES;
use crate::{
    errors::{OkxEnvelope, INSTRUMENT_NOT_FOUND, PARAMETER_ERROR},
    model::{
        FundingRow, IndexTickerRow, InstrumentRow, MarkPriceRow, OpenInterestRow, Str, TickerRow,
    },
    requests::{
        funding_request, ANY_INSTRUMENT, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS,
        TAG_INDEX_PREFIX, TAG_MARK_PRICE, TAG_OPEN_INTEREST, TAG_TICKERS,
    },
};

/// `extra` key: OKX's own instrument `state` (`live`, `suspend`, ...).
pub const EXTRA_RAW_STATUS: &str = "raw_status";
/// `extra` key on instrument records: `instFamily` (`BTC-USDT`), also the swap's index name.
pub const EXTRA_INST_FAMILY: &str = "inst_family";
/// `extra` key on funding records: OKX's funding `method` (`current_period`, `next_period`).
pub const EXTRA_METHOD: &str = "method";
/// `extra` key on funding records: `settState` (`processing`, `settled`).
pub const EXTRA_SETT_STATE: &str = "sett_state";

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx),
        KIND_TICKERS => parse_tickers(responses, ctx),
        KIND_FUNDING => parse_funding(responses, ctx),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("unknown kind `{other}` (okx knows instruments, tickers, funding)"),
        )),
    }
}

/// The `data` rows of one response, or its classified error.
fn data_rows<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<Vec<T>, PluginError> {
    open::<OkxEnvelope, Vec<T>>(response, ctx.now_ms).map(|opened| opened.payload)
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

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unusable = SkippedSymbols::new();
    let mut not_swap = SkippedSymbols::new();
    for response in responses {
        let rows = match data_rows::<InstrumentRow<'_>>(response, ctx) {
            Ok(rows) => rows,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        if rows.is_empty() {
            out.warn(format!(
                "[{}] OKX listed no instruments in a successful response",
                response.tag()
            ));
        }
        for row in &rows {
            if !row.inst_type.is_empty() && row.inst_type != "SWAP" {
                not_swap.add(&row.inst_id);
                continue;
            }
            match instrument_record(row, ctx, response.received_ts) {
                Some(record) => out.records.push(record),
                None => unusable.add(&row.inst_id),
            }
        }
    }
    unusable.report(
        &mut out,
        "without a usable ctType/currencies (listing announced, contract not configured yet?)",
    );
    not_swap.report(&mut out, "whose instType is not SWAP");
    out
}

/// One instrument record, or `None` when the row does not say what contract it is.
fn instrument_record(
    row: &InstrumentRow<'_>,
    ctx: &Context<'_>,
    received_ts: i64,
) -> Option<Record> {
    let family = non_empty(&row.inst_family).or_else(|| non_empty(&row.uly));
    let (family_base, family_quote) = family.and_then(|f| f.split_once('-')).unzip();
    let settle = non_empty(&row.settle_ccy)?;
    let (market_type, base, quote) = match row.ct_type.as_ref() {
        // ETH-USDT-SWAP: ctVal in ETH (ctValCcy), quoted and settled in USDT.
        "linear" => (
            MarketType::LINEAR_PERPETUAL,
            non_empty(&row.ct_val_ccy).or(family_base)?,
            settle,
        ),
        // BTC-USD-SWAP: ctVal in USD (ctValCcy), settled in BTC; the base comes from the family.
        "inverse" => (
            MarketType::INVERSE_PERPETUAL,
            family_base?,
            family_quote.or_else(|| non_empty(&row.ct_val_ccy))?,
        ),
        _ => return None,
    };

    let mut record = symbols::instrument_record(
        ctx,
        &row.inst_id,
        base,
        quote,
        settle,
        market_type,
        received_ts,
        CURRENCY_RENAMES,
    );
    // Linear: base units per contract; inverse: USD per contract (see `Record::contract_size`).
    record.contract_size = mul(row.ct_val, row.ct_mult).filter(|v| *v > 0.0).into();
    record.tick_size = row.tick_sz.filter(|v| *v > 0.0).into();
    if let Some(state) = non_empty(&row.state) {
        record.status = ROption::RSome(normalize_status(state).into());
        record.push_extra(EXTRA_RAW_STATUS, state);
    }
    record.listing_ts = row.list_time.into();
    record.delisting_ts = row.exp_time.into();
    if let Some(family) = family {
        record.push_extra(EXTRA_INST_FAMILY, family);
    }
    Some(record)
}

/// OKX `state` → the record's status vocabulary; unknown words pass through lower-cased.
fn normalize_status(state: &str) -> String {
    match state {
        "live" => "trading".to_owned(),
        "suspend" => "halted".to_owned(),
        "preopen" => "pre_launch".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

/// The endpoints joined into ticker records, in the order they are applied (the first one
/// with a timestamp sets `exchange_ts`; open interest needs the mark of the same round).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TickerSource {
    Tickers,
    MarkPrice,
    OpenInterest,
    Index,
}

fn ticker_source(tag: &str) -> Option<TickerSource> {
    match tag {
        TAG_TICKERS => Some(TickerSource::Tickers),
        TAG_MARK_PRICE => Some(TickerSource::MarkPrice),
        TAG_OPEN_INTEREST => Some(TickerSource::OpenInterest),
        t if t.starts_with(TAG_INDEX_PREFIX) => Some(TickerSource::Index),
        _ => None,
    }
}

/// One ticker record being joined, with the raw contract counts converted at the end.
struct Slot<'c> {
    instrument: &'c Record,
    record: Record,
    /// `vol24h`: contracts.
    volume_contracts: Option<f64>,
    /// `volCcy24h`: base currency.
    volume_base: Option<f64>,
    /// `oi`: contracts.
    oi_contracts: Option<f64>,
    /// `oiCcy`: base currency.
    oi_base: Option<f64>,
}

impl<'c> Slot<'c> {
    fn new(instrument: &'c Record, received_ts: i64) -> Self {
        Slot {
            instrument,
            record: Record::for_instrument(RecordKind::TICKER, instrument, received_ts),
            volume_contracts: None,
            volume_base: None,
            oi_contracts: None,
            oi_base: None,
        }
    }

    /// The slot of the instrument `raw_symbol` in `slots` (`None`: not in ctx), made on first
    /// use; its `received_ts` is the latest of the responses that contributed to it.
    fn of<'t>(
        slots: &'t mut InstrumentTable<'c, Slot<'c>>,
        raw_symbol: &str,
        received_ts: i64,
    ) -> Option<&'t mut Slot<'c>> {
        let slot = slots.entry(raw_symbol, |i| Slot::new(i, received_ts))?;
        slot.record.received_ts = slot.record.received_ts.max(received_ts);
        Some(slot)
    }

    fn stamp(&mut self, ts: Option<i64>) {
        if self.record.exchange_ts.is_none() {
            self.record.exchange_ts = ts.into();
        }
    }

    /// Applies the contract size: volumes and open interest in base units and quote value.
    fn finish(self) -> Record {
        let mut record = self.record;
        let contract_size = self
            .instrument
            .contract_size
            .into_option()
            .filter(|v| *v > 0.0);
        if self.instrument.market_type == MarketType::INVERSE_PERPETUAL {
            // Inverse: a contract is worth `contract_size` USD; `*Ccy` fields are in the coin.
            record.volume_24h_base = self.volume_base.into();
            record.volume_24h_quote = mul(self.volume_contracts, contract_size).into();
            record.open_interest_base = self.oi_base.into();
            record.open_interest_quote = mul(self.oi_contracts, contract_size).into();
        } else {
            // Linear: a contract is `contract_size` base units. OKX gives no quote volume, and we
            // do not make one up from `last`.
            record.volume_24h_base = self
                .volume_base
                .or_else(|| mul(self.volume_contracts, contract_size))
                .into();
            let oi_base = self
                .oi_base
                .or_else(|| mul(self.oi_contracts, contract_size));
            record.open_interest_base = oi_base.into();
            record.open_interest_quote = mul(oi_base, record.mark.into_option()).into();
        }
        record
    }
}

fn parse_tickers<'c>(responses: &[HttpResponse<'_>], ctx: &Context<'c>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unknown = SkippedSymbols::new();
    let mut slots = InstrumentTable::new(ctx);
    // Index name (`BTC-USDT`) → (idxPx, received_ts).
    let mut indices: HashMap<Cow<'_, str>, (f64, i64)> = HashMap::new();

    let mut routed: Vec<(TickerSource, &HttpResponse<'_>)> = Vec::with_capacity(responses.len());
    for response in responses {
        match ticker_source(response.tag()) {
            Some(source) => routed.push((source, response)),
            None => out.warn(format!(
                "ignored a response with an unexpected tag `{}`",
                response.tag()
            )),
        }
    }
    routed.sort_by_key(|(source, _)| *source);

    for (source, response) in routed {
        let received_ts = response.received_ts;
        let result = match source {
            TickerSource::Tickers => data_rows::<TickerRow<'_>>(response, ctx).map(|rows| {
                for row in rows {
                    let Some(slot) = Slot::of(&mut slots, &row.inst_id, received_ts) else {
                        unknown.add(&row.inst_id);
                        continue;
                    };
                    slot.record.last = row.last.into();
                    slot.record.bid = row.bid_px.into();
                    slot.record.ask = row.ask_px.into();
                    slot.volume_contracts = row.vol24h;
                    slot.volume_base = row.vol_ccy24h;
                    slot.stamp(row.ts);
                }
            }),
            TickerSource::MarkPrice => data_rows::<MarkPriceRow<'_>>(response, ctx).map(|rows| {
                for row in rows {
                    let Some(slot) = Slot::of(&mut slots, &row.inst_id, received_ts) else {
                        unknown.add(&row.inst_id);
                        continue;
                    };
                    slot.record.mark = row.mark_px.into();
                    slot.stamp(row.ts);
                }
            }),
            TickerSource::OpenInterest => {
                data_rows::<OpenInterestRow<'_>>(response, ctx).map(|rows| {
                    for row in rows {
                        let Some(slot) = Slot::of(&mut slots, &row.inst_id, received_ts) else {
                            unknown.add(&row.inst_id);
                            continue;
                        };
                        slot.oi_contracts = row.oi;
                        slot.oi_base = row.oi_ccy;
                        slot.stamp(row.ts);
                    }
                })
            }
            // Indices are not swaps: no unknown-symbol accounting, joined below by family.
            TickerSource::Index => data_rows::<IndexTickerRow<'_>>(response, ctx).map(|rows| {
                for row in rows {
                    if let Some(price) = row.idx_px {
                        indices.insert(row.inst_id, (price, received_ts));
                    }
                }
            }),
        };
        if let Err(e) = result {
            out.errors.push(e);
        }
    }

    if !indices.is_empty() {
        for instrument in ctx.instruments.as_slice() {
            if let Some(&(price, received_ts)) = indices.get(index_name(instrument).as_ref()) {
                if let Some(slot) = Slot::of(&mut slots, &instrument.raw_symbol, received_ts) {
                    slot.record.index = ROption::RSome(price);
                }
            }
        }
    }

    out.records.reserve(slots.len());
    out.records.extend(slots.into_values().map(Slot::finish));
    unknown.report(&mut out, "not in the instrument list");
    out
}

/// The OKX index a swap is marked against: its `instFamily` (`BTC-USDT`, `BTC-USD`).
fn index_name(instrument: &Record) -> Cow<'_, str> {
    instrument
        .extra
        .iter()
        .find(|kv| kv.key.as_str() == EXTRA_INST_FAMILY)
        .map(|kv| Cow::Borrowed(kv.value.as_str()))
        .unwrap_or_else(|| Cow::Owned(format!("{}-{}", instrument.base, instrument.quote)))
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

fn parse_funding(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut unknown = SkippedSymbols::new();
    let mut fell_back = false;
    for response in responses {
        match data_rows::<FundingRow<'_>>(response, ctx) {
            Ok(rows) => {
                for row in &rows {
                    match ctx.instrument(&row.inst_id) {
                        Some(instrument) => {
                            out.records
                                .push(funding_record(row, instrument, response.received_ts))
                        }
                        None => unknown.add(&row.inst_id),
                    }
                }
            }
            Err(e) if is_any_request(response) && is_parameter_refusal(&e) => {
                if fell_back {
                    continue;
                }
                let requests: Vec<_> = ctx
                    .instruments
                    .iter()
                    .filter(|i| is_trading(i))
                    .map(|i| funding_request(i.raw_symbol.as_str()))
                    .collect();
                if requests.is_empty() {
                    // Nothing to fall back on: the refusal is all there is to report.
                    out.errors.push(e);
                    continue;
                }
                fell_back = true;
                out.warn(format!(
                    "instId={ANY_INSTRUMENT} refused ({e}); asking for the {} trading swaps one by one",
                    requests.len()
                ));
                out.next_requests.extend(requests);
            }
            Err(e) => out.errors.push(e),
        }
    }
    unknown.report(&mut out, "not in the instrument list");
    out
}

/// The all-swaps request (`instId=ANY`), whatever its tag.
fn is_any_request(response: &HttpResponse<'_>) -> bool {
    response.request.query_value("instId") == Some(ANY_INSTRUMENT)
}

/// OKX's answer when it does not accept `instId=ANY` (HTTP 200 or 400).
fn is_parameter_refusal(e: &PluginError) -> bool {
    matches!(e.code.as_str(), PARAMETER_ERROR | INSTRUMENT_NOT_FOUND)
}

fn is_trading(instrument: &Record) -> bool {
    matches!(instrument.status.as_ref().into_option(), Some(s) if s.as_str() == "trading")
}

fn funding_record(row: &FundingRow<'_>, instrument: &Record, received_ts: i64) -> Record {
    let mut record = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    record.exchange_ts = row.ts.into();
    record.rate = row.funding_rate.into();
    // `fundingTime` is when the current period settles (it is ahead of `ts`); `nextFundingTime`
    // the settlement after that: their distance is the interval OKX currently applies.
    record.next_funding_ts = row.funding_time.into();
    if let Some(hours) = row
        .funding_time
        .zip(row.next_funding_time)
        .and_then(|(current, next)| hours_between(current, next))
    {
        record.interval_hours = ROption::RSome(hours);
        record.interval_source = ROption::RSome(IntervalSource::INFERRED);
    }
    record.predicted_rate = row.next_funding_rate.into();
    record.rate_cap = row.max_funding_rate.into();
    record.rate_floor = row.min_funding_rate.into();
    if let Some(method) = non_empty(&row.method) {
        record.push_extra(EXTRA_METHOD, method);
    }
    if let Some(state) = non_empty(&row.sett_state) {
        record.push_extra(EXTRA_SETT_STATE, state);
    }
    record
}
