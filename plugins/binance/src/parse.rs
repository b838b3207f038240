//! `parse`: the responses of one round of a kind → normalized records, errors and warnings.
//!
//! Owns: joining a round's responses by symbol (identified by tag), mapping Binance fields onto
//! [`Record`] fields, Binance's value conventions (the perpetual delivery-date sentinel, `0`
//! meaning "none", status words), and skipping rows that are not perpetual instruments in ctx
//! (summarised in one warning per call).
//! Must not: panic, log, do I/O or keep state; must not turn a bad response into an empty
//! success (every bad response becomes a classified error naming its tag), and must not let one
//! bad response discard the records the other responses of the round still give. Leaves
//! `rate_8h`/`rate_annualized` to the host.

use std::collections::BTreeMap;

use plugin_api::abi_stable::std_types::ROption;
use plugin_api::{
    Context, HttpResponse, IntervalSource, MarketType, ParseOutput, PluginError, Record, RecordKind,
};
use plugin_kit::{envelope::check, examples, symbols, InstrumentTable, SkippedSymbols};
use serde::Deserialize;

use crate::errors::BinanceEnvelope;
use crate::model::{
    BookTickerRow, ExchangeInfo, FundingInfoRow, Obj, OpenInterest, PremiumIndexRow, Str,
    Ticker24hRow,
};
use crate::requests::{
    TAG_BOOK_TICKER, TAG_EXCHANGE_INFO, TAG_FUNDING_INFO, TAG_OPEN_INTEREST_PREFIX,
    TAG_PREMIUM_INDEX, TAG_TICKER_24HR,
};
use crate::CURRENCY_RENAMES;
use crate::{
    DEFAULT_FUNDING_INTERVAL_HOURS, KIND_FUNDING, KIND_INSTRUMENTS, KIND_OPEN_INTEREST,
    KIND_TICKERS,
};

/// `deliveryDate` Binance gives perpetuals with no delisting scheduled (2100-12-25 08:00 UTC).
pub const PERPETUAL_DELIVERY_SENTINEL: i64 = 4_133_404_800_000;

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    match kind {
        KIND_INSTRUMENTS => instruments(responses, ctx),
        KIND_TICKERS => tickers(responses, ctx),
        KIND_FUNDING => funding(responses, ctx),
        KIND_OPEN_INTEREST => open_interest(responses, ctx),
        other => ParseOutput::from_error(PluginError::permanent(
            "",
            format!("binance: unknown kind `{other}`"),
        )),
    }
}

// --- instruments -------------------------------------------------------------------------------

fn instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let [response] = pick(KIND_INSTRUMENTS, responses, [TAG_EXCHANGE_INFO], &mut out);
    let Some(response) = response else {
        out.warn("instruments: no exchangeInfo response in this round");
        return out;
    };
    let info: ExchangeInfo<'_> = match decode_object(response, ctx) {
        Ok(info) => info,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };

    let total = info.symbols.len();
    let server_time = info.server_time;
    let mut unknown_types = SkippedSymbols::new();
    let mut incomplete = SkippedSymbols::new();
    let mut records = Vec::new();
    for Obj(s) in info.symbols {
        match s.contract_type.as_ref() {
            "PERPETUAL" | "TRADIFI_PERPETUAL" | "PERPETUAL_DELIVERING" => {}
            "CURRENT_MONTH"
            | "NEXT_MONTH"
            | "CURRENT_QUARTER"
            | "NEXT_QUARTER"
            | "CURRENT_QUARTER_DELIVERING"
            | "NEXT_QUARTER_DELIVERING" => continue,
            other => {
                unknown_types.add(&format!("{} ({other:?})", s.symbol));
                continue;
            }
        }
        let (base, quote, settle) = (&s.base_asset, &s.quote_asset, &s.margin_asset);
        if s.symbol.is_empty() || base.is_empty() || quote.is_empty() || settle.is_empty() {
            incomplete.add(&s.symbol);
            continue;
        }
        let mut rec = symbols::instrument_record(
            ctx,
            &s.symbol,
            base,
            quote,
            settle,
            MarketType::LINEAR_PERPETUAL,
            response.received_ts,
            CURRENCY_RENAMES,
        );
        rec.exchange_ts = server_time.into();
        rec.contract_size = ROption::RSome(1.0);
        rec.tick_size = s
            .filters
            .iter()
            .find(|f| f.filter_type == "PRICE_FILTER")
            .and_then(|f| f.tick_size)
            .filter(|t| *t > 0.0)
            .into();
        if !s.status.is_empty() {
            rec.status = ROption::RSome(normalize_status(&s.status).into());
            rec.push_extra("raw_status", s.status.as_ref());
        }
        rec.push_extra("contract_type", s.contract_type.as_ref());
        rec.listing_ts = s.onboard_date.into();
        rec.delisting_ts = s
            .delivery_date
            .filter(|d| *d < PERPETUAL_DELIVERY_SENTINEL)
            .into();
        records.push(rec);
    }

    unknown_types.report(&mut out, "of instruments with an unrecognised contractType");
    incomplete.report(
        &mut out,
        "of perpetual instruments without symbol/baseAsset/quoteAsset/marginAsset",
    );
    if records.is_empty() {
        // Never an empty success: the host would replace its universe with nothing.
        out.errors.push(PluginError::parse(
            response.tag(),
            format!("exchangeInfo lists {total} symbol(s) but no usable perpetual contract"),
        ));
    }
    records.sort_by(|a, b| a.raw_symbol.cmp(&b.raw_symbol));
    out.records = records.into();
    out
}

/// Binance contract status → the record's status word (`raw_status` keeps the original).
pub fn normalize_status(raw: &str) -> String {
    match raw {
        "TRADING" => "trading".to_owned(),
        "PENDING_TRADING" => "pre_launch".to_owned(),
        "SETTLING" => "settling".to_owned(),
        "CLOSE" => "delisted".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

// --- tickers -----------------------------------------------------------------------------------

fn tickers(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let [day, book, premium] = pick(
        KIND_TICKERS,
        responses,
        [TAG_TICKER_24HR, TAG_BOOK_TICKER, TAG_PREMIUM_INDEX],
        &mut out,
    );
    let mut joined = Joined::new(RecordKind::TICKER, ctx);
    let mut skipped = SkippedSymbols::new();

    // bookTicker and premiumIndex first: their `time` is only a fallback for `exchange_ts`;
    // the 24hr `closeTime` below wins when the symbol has a 24hr row.
    if let Some((response, rows)) = decode_round::<BookTickerRow<'_>>(book, ctx, &mut out) {
        for row in rows {
            let Some(rec) = joined.entry(&row.symbol, response.received_ts) else {
                skipped.add(&row.symbol);
                continue;
            };
            rec.bid = row.bid_price.into();
            rec.ask = row.ask_price.into();
            rec.exchange_ts = latest(rec.exchange_ts, row.time);
        }
    }
    if let Some((response, rows)) = decode_round::<PremiumIndexRow<'_>>(premium, ctx, &mut out) {
        for row in rows {
            let Some(rec) = joined.entry(&row.symbol, response.received_ts) else {
                skipped.add(&row.symbol);
                continue;
            };
            rec.mark = row.mark_price.into();
            rec.index = row.index_price.into();
            rec.exchange_ts = latest(rec.exchange_ts, row.time);
        }
    }
    if let Some((response, rows)) = decode_round::<Ticker24hRow<'_>>(day, ctx, &mut out) {
        for row in rows {
            let Some(rec) = joined.entry(&row.symbol, response.received_ts) else {
                skipped.add(&row.symbol);
                continue;
            };
            rec.last = row.last_price.into();
            rec.volume_24h_base = row.volume.into();
            rec.volume_24h_quote = row.quote_volume.into();
            if row.close_time.is_some() {
                rec.exchange_ts = row.close_time.into();
            }
        }
    }

    skipped.report(&mut out, &not_perpetual(KIND_TICKERS));
    out.records = joined.into_records();
    out
}

// --- funding -----------------------------------------------------------------------------------

fn funding(responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let [premium, info] = pick(
        KIND_FUNDING,
        responses,
        [TAG_PREMIUM_INDEX, TAG_FUNDING_INFO],
        &mut out,
    );
    let mut joined = Joined::new(RecordKind::FUNDING, ctx);
    let mut skipped = SkippedSymbols::new();

    // fundingInfo: `None` when it failed or is absent (intervals then stay unknown: the host
    // keeps the last known one), otherwise the symbols whose interval/cap/floor differ.
    let info = decode_round::<FundingInfoRow<'_>>(info, ctx, &mut out).map(|(response, rows)| {
        let by_symbol: BTreeMap<Str<'_>, FundingInfoRow<'_>> =
            rows.into_iter().map(|r| (r.symbol.clone(), r)).collect();
        (response.received_ts, by_symbol)
    });

    match decode_round::<PremiumIndexRow<'_>>(premium, ctx, &mut out) {
        Some((response, rows)) => {
            for row in rows {
                let Some(rec) = joined.entry(&row.symbol, response.received_ts) else {
                    skipped.add(&row.symbol);
                    continue;
                };
                rec.next_funding_ts = row.next_funding_time.into();
                // `"0.00000000"` with no next funding time is Binance's "no funding" (delivery
                // contracts, settled perpetuals), not a zero rate. A live perpetual's 0 stays 0.
                let no_next_funding = row.next_funding_time.is_none();
                rec.rate = row
                    .last_funding_rate
                    .filter(|rate| !(no_next_funding && *rate == 0.0))
                    .into();
                rec.mark = row.mark_price.into();
                rec.index = row.index_price.into();
                rec.exchange_ts = row.time.into();
            }
        }
        None => {
            // No premium index this round: fundingInfo alone still refreshes every perpetual's
            // interval (partial records; the host merges them by key).
            if let Some((received_ts, _)) = &info {
                joined.every_instrument(*received_ts);
            }
        }
    }

    if let Some((received_ts, by_symbol)) = &info {
        for (symbol, rec) in joined.iter_mut() {
            rec.received_ts = rec.received_ts.max(*received_ts);
            let listed = by_symbol.get(symbol);
            let reported = listed
                .and_then(|r| r.funding_interval_hours)
                .filter(|h| *h > 0.0);
            match reported {
                Some(hours) => {
                    rec.interval_hours = ROption::RSome(hours);
                    rec.interval_source = ROption::RSome(IntervalSource::REPORTED);
                }
                None => {
                    rec.interval_hours = ROption::RSome(DEFAULT_FUNDING_INTERVAL_HOURS);
                    rec.interval_source = ROption::RSome(IntervalSource::DEFAULT);
                }
            }
            if let Some(row) = listed {
                rec.rate_cap = row.adjusted_funding_rate_cap.into();
                rec.rate_floor = row.adjusted_funding_rate_floor.into();
            }
        }
        for symbol in by_symbol.keys() {
            if ctx.instrument(symbol).is_none() {
                skipped.add(symbol);
            }
        }
    }

    skipped.report(&mut out, &not_perpetual(KIND_FUNDING));
    out.records = joined.into_records();
    out
}

// --- open interest -----------------------------------------------------------------------------

fn open_interest<'a>(responses: &[HttpResponse<'a>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    let mut joined = Joined::new(RecordKind::TICKER, ctx);
    let mut skipped = SkippedSymbols::new();

    let mut premium = None;
    let mut per_symbol = Vec::new();
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

    // Mark prices value the open interest; without them the quote value stays unknown.
    let marks: BTreeMap<Str<'a>, f64> = decode_round::<PremiumIndexRow<'a>>(premium, ctx, &mut out)
        .map(|(_, rows)| {
            rows.into_iter()
                .filter_map(|r| Some((r.symbol, r.mark_price?)))
                .collect()
        })
        .unwrap_or_default();

    for (tag_symbol, response) in per_symbol {
        let row: OpenInterest<'a> = match decode_object(response, ctx) {
            Ok(row) => row,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        let symbol = if row.symbol.is_empty() {
            Str::Borrowed(tag_symbol)
        } else {
            row.symbol
        };
        if symbol != tag_symbol {
            out.warn(format!(
                "open_interest: response tagged `{}` is for `{symbol}`",
                response.tag()
            ));
        }
        let mark = marks.get(symbol.as_ref()).copied();
        let Some(rec) = joined.entry(&symbol, response.received_ts) else {
            skipped.add(&symbol);
            continue;
        };
        rec.open_interest_base = row.open_interest.into();
        rec.open_interest_quote = row.open_interest.zip(mark).map(|(oi, m)| oi * m).into();
        rec.exchange_ts = row.time.into();
    }

    skipped.report(&mut out, &not_perpetual(KIND_OPEN_INTEREST));
    out.records = joined.into_records();
    out
}

// --- shared ------------------------------------------------------------------------------------

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

/// Why a kind's rows were skipped: `of tickers that are not perpetual instruments in ctx (...)`.
fn not_perpetual(kind: &str) -> String {
    format!(
        "of {kind} that are not perpetual instruments in ctx (delivery contracts, unknown or \
         delisted symbols)"
    )
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

/// Decodes a list endpoint's response of this round: `None` when absent or failed (the error
/// is pushed to `out`). A single object (the `symbol=` form of the endpoint) is a one-row list.
fn decode_round<'r, 'a, T: Deserialize<'a>>(
    response: Option<&'r HttpResponse<'a>>,
    ctx: &Context<'_>,
    out: &mut ParseOutput,
) -> Option<(&'r HttpResponse<'a>, Vec<T>)> {
    let response = response?;
    match decode_rows(response, ctx) {
        Ok(rows) => Some((response, rows)),
        Err(e) => {
            out.errors.push(e);
            None
        }
    }
}

fn decode_rows<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<Vec<T>, PluginError> {
    let body = checked_body(response, ctx)?;
    let decoded = if first_byte(body) == Some(b'[') {
        plugin_kit::json_from_body::<Vec<Obj<T>>>(body)
            .map(|rows| rows.into_iter().map(|Obj(row)| row).collect())
    } else {
        plugin_kit::json_from_body::<Obj<T>>(body).map(|Obj(row)| vec![row])
    };
    decoded.map_err(|e| shape_error(response, &e))
}

fn decode_object<'a, T: Deserialize<'a>>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<T, PluginError> {
    let body = checked_body(response, ctx)?;
    plugin_kit::json_from_body::<Obj<T>>(body)
        .map(|Obj(object)| object)
        .map_err(|e| shape_error(response, &e))
}

/// The body of a 2xx, non-envelope response that at least starts like JSON.
fn checked_body<'a>(
    response: &HttpResponse<'a>,
    ctx: &Context<'_>,
) -> Result<&'a [u8], PluginError> {
    check::<BinanceEnvelope>(response, ctx.now_ms)?;
    let body = response.body();
    plugin_kit::check_json_body(body, response.tag())?;
    Ok(body)
}

fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|b| !b.is_ascii_whitespace())
}

fn shape_error(response: &HttpResponse<'_>, e: &serde_json::Error) -> PluginError {
    let what = if e.is_eof() {
        "truncated JSON"
    } else if e.is_syntax() {
        "invalid JSON"
    } else {
        "unexpected JSON shape"
    };
    PluginError::parse(
        response.tag(),
        format!(
            "{what} from {}: {e}; body starts {}",
            response.request.path,
            plugin_kit::snippet(response.body())
        ),
    )
}

/// The later of a record's timestamp and a new one.
fn latest(current: ROption<i64>, new: Option<i64>) -> ROption<i64> {
    match (current.into_option(), new) {
        (Some(a), Some(b)) => ROption::RSome(a.max(b)),
        (a, b) => a.or(b).into(),
    }
}

/// Records of one kind being joined across a round's responses, keyed by raw symbol (so the
/// output is sorted like ctx's instruments).
struct Joined<'c> {
    kind: RecordKind,
    records: InstrumentTable<'c, Record>,
}

impl<'c> Joined<'c> {
    fn new(kind: RecordKind, ctx: &Context<'c>) -> Self {
        Self {
            kind,
            records: InstrumentTable::new(ctx),
        }
    }

    /// The record for the instrument `raw_symbol`, created on first use; `None` when ctx does
    /// not list it. `received_ts` is the latest of the responses that contributed to it.
    fn entry(&mut self, raw_symbol: &str, received_ts: i64) -> Option<&mut Record> {
        let kind = self.kind;
        let rec = self.records.entry(raw_symbol, |instrument| {
            Record::for_instrument(kind, instrument, received_ts)
        })?;
        rec.received_ts = rec.received_ts.max(received_ts);
        Some(rec)
    }

    /// A (partial) record for every instrument of ctx.
    fn every_instrument(&mut self, received_ts: i64) {
        let kind = self.kind;
        for (at, instrument) in self.records.instruments().iter().enumerate() {
            if instrument.kind == RecordKind::INSTRUMENT {
                self.records
                    .entry_at(at, |i| Record::for_instrument(kind, i, received_ts));
            }
        }
    }

    /// The records so far with their raw symbols, sorted by raw symbol.
    fn iter_mut(&mut self) -> impl Iterator<Item = (&'c str, &mut Record)> {
        self.records
            .iter_mut()
            .map(|(instrument, rec)| (instrument.raw_symbol.as_str(), rec))
    }

    fn into_records(self) -> plugin_api::abi_stable::std_types::RVec<Record> {
        // Sized once: growing a vector of ~640-byte records doubles and copies it repeatedly.
        let mut records =
            plugin_api::abi_stable::std_types::RVec::with_capacity(self.records.len());
        records.extend(self.records.into_values());
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_normalize() {
        let cases = [
            ("TRADING", "trading"),
            ("PENDING_TRADING", "pre_launch"),
            ("SETTLING", "settling"),
            ("CLOSE", "delisted"),
            ("PRE_SETTLE", "pre_settle"),
            ("DELIVERING", "delivering"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_status(raw), want, "{raw}");
        }
    }

    #[test]
    fn latest_keeps_the_later_time() {
        assert_eq!(latest(ROption::RNone, None), ROption::RNone);
        assert_eq!(latest(ROption::RNone, Some(5)), ROption::RSome(5));
        assert_eq!(latest(ROption::RSome(7), None), ROption::RSome(7));
        assert_eq!(latest(ROption::RSome(7), Some(5)), ROption::RSome(7));
        assert_eq!(latest(ROption::RSome(3), Some(5)), ROption::RSome(5));
    }
}
