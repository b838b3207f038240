//! Response parsing per data kind: BingX rows → normalized [`Record`]s, the join of the bulk
//! ticker with the bulk premium index, the funding interval, and the per-symbol open interest
//! valued at the round's marks.
//!
//! Owns: field mapping (which BingX field fills which record field), status normalization,
//! symbol rules (`BTC-USDT` split on `-`, ccxt's BingX renames), BingX's value conventions (a
//! zero price is no price; `lastFundingRate` is the current period's rate; `fundingIntervalHours`
//! where present, else 8 h marked `default`; `openInterest` is a quote-currency value, whose
//! base-coin amount is derived with the round's mark price).
//! Must not: classify failures itself (`errors.rs` describes the envelope, plugin-kit
//! classifies), invent values (a missing input stays `RNone`, never 0), compute
//! `rate_8h`/`rate_annualized` (the host does), read a clock, panic, or let one bad response
//! discard the records the others still give.

use std::collections::BTreeMap;

use plugin_api::{
    abi_stable::std_types::{ROption, RVec},
    Context, HttpResponse, IntervalSource, MarketType, ParseOutput, PluginError, Record,
    RecordKind,
};
use plugin_kit::{
    envelope::open, examples, symbols, symbols::unified_code, InstrumentTable, SkippedSymbols,
};
use serde::Deserialize;

use crate::{
    errors::BingxEnvelope,
    model::{ContractRow, OpenInterestRow, PremiumIndexRow, Rows, Str, TickerRow},
    requests::{
        unknown_kind, KIND_FUNDING, KIND_INSTRUMENTS, KIND_OPEN_INTEREST, KIND_TICKERS,
        TAG_CONTRACTS, TAG_OPEN_INTEREST_PREFIX, TAG_PREMIUM_INDEX, TAG_TICKER,
    },
    CURRENCY_RENAMES, DEFAULT_FUNDING_INTERVAL_HOURS,
};

/// `extra` key on instrument records: BingX's numeric contract `status` as sent.
pub const EXTRA_RAW_STATUS: &str = "raw_status";
/// `extra` key on open-interest ticker records: `open_interest_base` is the served quote value
/// divided by the mark price (BingX serves the value only).
pub const EXTRA_OI_BASE_DERIVED: &str = "oi_base_derived";

/// `status` of an online contract.
const STATUS_ONLINE: i64 = 1;
/// `status` of a contract announced but not trading yet (UNCONFIRMED: BingX's docs, not in a
/// stored source).
const STATUS_PRE_ONLINE: i64 = 5;
/// `status` of a contract that may only reduce positions (UNCONFIRMED, as above).
const STATUS_NO_OPENING: i64 = 25;
/// `status` of a contract taken offline (UNCONFIRMED, as above).
const STATUS_OFFLINE: i64 = 0;
/// Largest `pricePrecision` read as decimals (f64 has no more).
const MAX_PRICE_DECIMALS: f64 = 18.0;

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx),
        KIND_TICKERS => parse_tickers(responses, ctx),
        KIND_FUNDING => parse_funding(responses, ctx),
        KIND_OPEN_INTEREST => parse_open_interest(responses, ctx),
        other => ParseOutput::from_error(PluginError::permanent("", unknown_kind(other))),
    }
}

// ------------------------------------------------------------------------------------------
// shared
// ------------------------------------------------------------------------------------------

/// The rows in one response's `data` and the envelope's `timestamp`, or its classified error.
fn data_rows<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<(Vec<T>, Option<i64>), PluginError> {
    open::<BingxEnvelope, Rows<T>>(response, ctx.now_ms)
        .map(|opened| (opened.payload.0, opened.time_ms))
}

/// [`data_rows`] of a response that may be missing from the round: `None` (error pushed to
/// `out`) when it failed.
fn decode<'r, 'a, T: Deserialize<'a>>(
    response: Option<&'r HttpResponse<'a>>,
    ctx: &Context<'_>,
    out: &mut ParseOutput,
) -> Option<(&'r HttpResponse<'a>, Vec<T>)> {
    let response = response?;
    match data_rows(response, ctx) {
        Ok((rows, _)) => Some((response, rows)),
        Err(e) => {
            out.errors.push(e);
            None
        }
    }
}

/// The responses of a round sorted into the expected tags (first one wins); unexpected or
/// repeated tags are ignored with one warning.
fn pick<'r, 'a, const N: usize>(
    kind: &str,
    responses: &'r [HttpResponse<'a>],
    tags: [&str; N],
    out: &mut ParseOutput,
) -> [Option<&'r HttpResponse<'a>>; N] {
    let mut picked: [Option<&'r HttpResponse<'a>>; N] = [None; N];
    let mut ignored = Vec::new();
    for response in responses {
        let slot = tags
            .iter()
            .position(|t| *t == response.tag())
            .and_then(|i| picked.get_mut(i))
            .filter(|slot| slot.is_none());
        match slot {
            Some(slot) => *slot = Some(response),
            None => ignored.push(response.tag()),
        }
    }
    warn_ignored(kind, &ignored, out);
    picked
}

fn warn_ignored(kind: &str, ignored: &[&str], out: &mut ParseOutput) {
    if !ignored.is_empty() {
        out.warn(format!(
            "{kind}: ignored {} response(s) with an unexpected or repeated tag: {}",
            ignored.len(),
            examples(ignored.iter().copied()),
        ));
    }
}

/// A price: BingX writes `0` (or `""`) for a symbol without one; never a real price.
fn price(v: Option<f64>) -> ROption<f64> {
    v.filter(|p| *p > 0.0).into()
}

/// `Some(s)` unless `s` is empty or blank.
fn non_empty<'s>(s: &'s Option<Str<'_>>) -> Option<&'s str> {
    let t = s.as_deref()?.trim();
    (!t.is_empty()).then_some(t)
}

/// Records of one kind being joined across a round's responses, one per instrument of ctx
/// (sorted like ctx); `received_ts` is the latest of the responses that contributed.
struct Joined<'c> {
    kind: RecordKind,
    records: InstrumentTable<'c, Record>,
    /// Rows of symbols ctx does not list (not perpetual, unknown, delisted).
    unknown: SkippedSymbols,
}

impl<'c> Joined<'c> {
    fn new(kind: RecordKind, ctx: &Context<'c>) -> Self {
        Self {
            kind,
            records: InstrumentTable::new(ctx),
            unknown: SkippedSymbols::new(),
        }
    }

    /// The record of `raw_symbol`, made on first use; `None` (and counted) when ctx does not
    /// list it.
    fn entry(&mut self, raw_symbol: &str, received_ts: i64) -> Option<&mut Record> {
        let kind = self.kind;
        match self.records.entry(raw_symbol, |instrument| {
            Record::for_instrument(kind, instrument, received_ts)
        }) {
            Some(record) => {
                record.received_ts = record.received_ts.max(received_ts);
                Some(record)
            }
            None => {
                self.unknown.add(raw_symbol);
                None
            }
        }
    }

    fn finish(self, kind: &str, out: &mut ParseOutput) {
        self.unknown.report(
            out,
            &format!("of {kind} rows that are not instruments in ctx (unknown or delisted)"),
        );
        let mut records = RVec::with_capacity(self.records.len());
        records.extend(self.records.into_values());
        out.records = records;
    }
}

// ------------------------------------------------------------------------------------------
// instruments
// ------------------------------------------------------------------------------------------

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let [response] = pick(KIND_INSTRUMENTS, responses, [TAG_CONTRACTS], &mut out);
    let Some(response) = response else {
        out.warn("instruments: no contracts response in this round");
        return out;
    };
    let (rows, server_time) = match data_rows::<ContractRow<'_>>(response, ctx) {
        Ok(decoded) => decoded,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let mut unnamed = SkippedSymbols::new();
    let mut other_settle = SkippedSymbols::new();
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        match instrument_record(row, ctx, response.received_ts) {
            Ok(mut record) => {
                record.exchange_ts = server_time.into();
                records.push(record);
            }
            Err(Unusable::NotBaseQuote) => unnamed.add(&row.symbol),
            Err(Unusable::SettlesElsewhere) => other_settle.add(&row.symbol),
        }
    }
    unnamed.report(&mut out, "of contracts whose symbol is not BASE-QUOTE");
    other_settle.report(
        &mut out,
        "of contracts settled in another currency than their quote",
    );
    if records.is_empty() {
        // Never an empty success: the host would replace its universe with nothing.
        out.errors.push(PluginError::parse(
            response.tag(),
            format!(
                "contracts lists {} row(s) but no usable perpetual",
                rows.len()
            ),
        ));
    }
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    out.records = records.into();
    out
}

/// Why a contract row gives no instrument.
enum Unusable {
    NotBaseQuote,
    SettlesElsewhere,
}

/// One instrument record: base and quote from `symbol` split on `-` (ccxt), settled in
/// `currency` (else the quote); a USDT-M contract is always linear.
fn instrument_record(
    row: &ContractRow<'_>,
    ctx: &Context<'_>,
    received_ts: i64,
) -> Result<Record, Unusable> {
    let (base, quote) = row
        .symbol
        .trim()
        .split_once('-')
        .filter(|(base, quote)| !base.is_empty() && !quote.is_empty() && !quote.contains('-'))
        .ok_or(Unusable::NotBaseQuote)?;
    let settle = non_empty(&row.currency).unwrap_or(quote);
    if unified_code(settle, CURRENCY_RENAMES) != unified_code(quote, CURRENCY_RENAMES) {
        return Err(Unusable::SettlesElsewhere);
    }
    let mut record = symbols::instrument_record(
        ctx,
        &row.symbol,
        base,
        quote,
        settle,
        MarketType::LINEAR_PERPETUAL,
        received_ts,
        CURRENCY_RENAMES,
    );
    // ccxt: one contract is one base coin (`size` is not a contract size; exchange-notes §8.1).
    record.contract_size = ROption::RSome(1.0);
    record.tick_size = tick_size(row).into();
    if let Some(status) = normalize_status(row) {
        record.status = ROption::RSome(status.into());
    }
    if let Some(raw) = row.status {
        record.push_extra(EXTRA_RAW_STATUS, format_number(raw));
    }
    record.listing_ts = row.time_online.into();
    Ok(record)
}

/// `tickSize` when sent (ccxt prefers it), else `10^-pricePrecision`.
fn tick_size(row: &ContractRow<'_>) -> Option<f64> {
    row.tick_size.filter(|t| *t > 0.0).or_else(|| {
        let decimals = row
            .price_precision
            .filter(|p| p.fract() == 0.0 && (0.0..=MAX_PRICE_DECIMALS).contains(p))?;
        Some(10f64.powi(-(decimals as i32)))
    })
}

/// BingX `status` (with the API flags) → the record's status word: `1` is `trading`, or
/// `restricted` when `apiStateOpen`/`apiStateClose` is false (ccxt: not active); `5`
/// `pre_launch`, `25` `reduce_only`, `0` `delisted` (those three UNCONFIRMED); any other code
/// `status_<n>`. `None` without a status.
pub fn normalize_status(row: &ContractRow<'_>) -> Option<String> {
    let status = row.status?;
    let code = status as i64;
    if status.fract() != 0.0 {
        return Some(format!("status_{}", format_number(status)));
    }
    Some(match code {
        STATUS_ONLINE
            if row.api_state_open == Some(false) || row.api_state_close == Some(false) =>
        {
            "restricted".to_owned()
        }
        STATUS_ONLINE => "trading".to_owned(),
        STATUS_PRE_ONLINE => "pre_launch".to_owned(),
        STATUS_NO_OPENING => "reduce_only".to_owned(),
        STATUS_OFFLINE => "delisted".to_owned(),
        other => format!("status_{other}"),
    })
}

/// A number as BingX would write it: integers without `.0`.
fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

// ------------------------------------------------------------------------------------------
// tickers
// ------------------------------------------------------------------------------------------

fn parse_tickers(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let [ticker, premium] = pick(
        KIND_TICKERS,
        responses,
        [TAG_TICKER, TAG_PREMIUM_INDEX],
        &mut out,
    );
    let mut joined = Joined::new(RecordKind::TICKER, ctx);
    // The ticker has no mark or index (and no open interest: that is `open_interest`'s).
    if let Some((response, rows)) = decode::<PremiumIndexRow<'_>>(premium, ctx, &mut out) {
        for row in rows {
            if let Some(record) = joined.entry(&row.symbol, response.received_ts) {
                record.mark = price(row.mark_price);
                record.index = price(row.index_price);
            }
        }
    }
    if let Some((response, rows)) = decode::<TickerRow<'_>>(ticker, ctx, &mut out) {
        for row in rows {
            if let Some(record) = joined.entry(&row.symbol, response.received_ts) {
                record.last = price(row.last_price);
                record.bid = price(row.bid_price);
                record.ask = price(row.ask_price);
                // A served 0 volume is a real (quiet) day.
                record.volume_24h_base = row.volume.into();
                record.volume_24h_quote = row.quote_volume.into();
                record.exchange_ts = row.close_time.into();
            }
        }
    }
    joined.finish(KIND_TICKERS, &mut out);
    out
}

// ------------------------------------------------------------------------------------------
// funding
// ------------------------------------------------------------------------------------------

fn parse_funding(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let [premium] = pick(KIND_FUNDING, responses, [TAG_PREMIUM_INDEX], &mut out);
    let mut joined = Joined::new(RecordKind::FUNDING, ctx);
    if let Some((response, rows)) = decode::<PremiumIndexRow<'_>>(premium, ctx, &mut out) {
        for row in rows {
            if let Some(record) = joined.entry(&row.symbol, response.received_ts) {
                fill_funding(record, &row);
            }
        }
    }
    joined.finish(KIND_FUNDING, &mut out);
    out
}

/// A funding record from one premium-index row.
fn fill_funding(record: &mut Record, row: &PremiumIndexRow<'_>) {
    // `lastFundingRate` is the rate that settles at `nextFundingTime`: the current one.
    record.rate = row.last_funding_rate.into();
    record.next_funding_ts = row.next_funding_time.into();
    // `fundingIntervalHours` where the row has it (newer responses); rows without it (older
    // responses, the recorded docs example) get BingX's default 8 h, marked as such.
    let (hours, source) = match row.funding_interval_hours.filter(|h| *h > 0.0) {
        Some(hours) => (hours, IntervalSource::REPORTED),
        None => (DEFAULT_FUNDING_INTERVAL_HOURS, IntervalSource::DEFAULT),
    };
    record.interval_hours = ROption::RSome(hours);
    record.interval_source = ROption::RSome(source);
    record.mark = price(row.mark_price);
    record.index = price(row.index_price);
}

// ------------------------------------------------------------------------------------------
// open interest
// ------------------------------------------------------------------------------------------

fn parse_open_interest<'a>(responses: &[HttpResponse<'a>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut per_symbol: Vec<(&str, &HttpResponse<'a>)> = Vec::with_capacity(responses.len());
    let mut premium: Option<&HttpResponse<'a>> = None;
    let mut ignored = Vec::new();
    for response in responses {
        let tag = response.tag();
        if let Some(symbol) = tag.strip_prefix(TAG_OPEN_INTEREST_PREFIX) {
            per_symbol.push((symbol, response));
        } else if tag == TAG_PREMIUM_INDEX && premium.is_none() {
            premium = Some(response);
        } else {
            ignored.push(tag);
        }
    }
    warn_ignored(KIND_OPEN_INTEREST, &ignored, &mut out);

    // The round's mark prices value its open interest in base coin; without them the base
    // amount stays unknown.
    let mark_of: BTreeMap<Str<'a>, f64> = decode::<PremiumIndexRow<'a>>(premium, ctx, &mut out)
        .map(|(_, rows)| {
            rows.into_iter()
                .filter_map(|row| Some((row.symbol, row.mark_price.filter(|m| *m > 0.0)?)))
                .collect()
        })
        .unwrap_or_default();

    let mut joined = Joined::new(RecordKind::TICKER, ctx);
    for (tag_symbol, response) in per_symbol {
        let row = match open_interest_row(response, tag_symbol, ctx) {
            Ok(row) => row,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        let symbol: &str = if row.symbol.trim().is_empty() {
            tag_symbol
        } else {
            row.symbol.trim()
        };
        if symbol != tag_symbol {
            out.warn(format!(
                "open_interest: response tagged `{}` is for `{symbol}`",
                response.tag()
            ));
        }
        let mark = mark_of.get(symbol).copied();
        let Some(record) = joined.entry(symbol, response.received_ts) else {
            continue;
        };
        // A VALUE in the quote currency (ccxt `openInterestValue`), not a count of contracts
        // or coins: the base amount is derived from it.
        let value = row.open_interest;
        record.open_interest_quote = value.into();
        let base = value
            .zip(mark)
            .map(|(v, m)| v / m)
            .filter(|b| b.is_finite());
        if base.is_some() {
            record.push_extra(EXTRA_OI_BASE_DERIVED, "true");
        }
        record.open_interest_base = base.into();
    }
    joined.finish(KIND_OPEN_INTEREST, &mut out);
    out
}

/// The open-interest row of one per-symbol response: the row for `symbol` (else the only
/// one); a response without a row is the wrong shape.
fn open_interest_row<'a>(
    response: &HttpResponse<'a>,
    symbol: &str,
    ctx: &Context<'_>,
) -> Result<OpenInterestRow<'a>, PluginError> {
    let (rows, _) = data_rows::<OpenInterestRow<'a>>(response, ctx)?;
    let count = rows.len();
    let mut rows = rows.into_iter();
    let row = if count == 1 {
        rows.next()
    } else {
        rows.find(|r| r.symbol.trim() == symbol)
    };
    row.ok_or_else(|| {
        PluginError::parse(
            response.tag(),
            format!("open interest answer with {count} rows, none for {symbol}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(
        status: Option<f64>,
        open: Option<bool>,
        close: Option<bool>,
    ) -> ContractRow<'static> {
        ContractRow {
            symbol: "BTC-USDT".into(),
            currency: None,
            status,
            api_state_open: open,
            api_state_close: close,
            price_precision: None,
            tick_size: None,
            time_online: None,
        }
    }

    #[test]
    fn statuses_normalize() {
        let cases = [
            (Some(1.0), Some(true), Some(true), Some("trading")),
            (Some(1.0), None, None, Some("trading")),
            (Some(1.0), Some(false), Some(true), Some("restricted")),
            (Some(1.0), Some(true), Some(false), Some("restricted")),
            (Some(5.0), None, None, Some("pre_launch")),
            (Some(25.0), None, None, Some("reduce_only")),
            (Some(0.0), None, None, Some("delisted")),
            (Some(7.0), None, None, Some("status_7")),
            (Some(1.5), None, None, Some("status_1.5")),
            (None, Some(true), Some(true), None),
        ];
        for (status, open, close, want) in cases {
            let got = normalize_status(&contract(status, open, close));
            assert_eq!(got.as_deref(), want, "{status:?} {open:?} {close:?}");
        }
    }

    #[test]
    fn tick_from_tick_size_or_precision() {
        let mut row = contract(Some(1.0), None, None);
        assert_eq!(tick_size(&row), None);
        row.price_precision = Some(2.0);
        assert_eq!(tick_size(&row), Some(0.01));
        row.price_precision = Some(0.0);
        assert_eq!(tick_size(&row), Some(1.0));
        row.price_precision = Some(2.5);
        assert_eq!(tick_size(&row), None);
        row.price_precision = Some(-1.0);
        assert_eq!(tick_size(&row), None);
        row.tick_size = Some(0.005);
        assert_eq!(tick_size(&row), Some(0.005));
    }

    #[test]
    fn numbers_format_like_bingx() {
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(25.0), "25");
        assert_eq!(format_number(1.5), "1.5");
    }
}
