//! Responses → records, per kind: instruments (with pagination), tickers and funding.
//!
//! Owns: the field mapping from Bybit rows onto [`Record`], unit conversions (funding interval
//! minutes → hours), status normalization, skipping rows that are not collected (dated futures,
//! symbols missing from `ctx`) and summarising them in one warning per call.
//! Must not: classify transport or envelope failures (`errors.rs` describes the envelope,
//! plugin-kit's `envelope::open` classifies), set `rate_8h` /
//! `rate_annualized` (the host computes them), write 0 for a missing value, or panic.

use abi_stable::std_types::ROption::{self, RNone, RSome};
use plugin_api::{
    Context, HttpResponse, IntervalSource, MarketType, ParseOutput, PluginError, Record, RecordKind,
};

use plugin_kit::{
    envelope::{open, Opened},
    symbols, SkippedSymbols,
};

use crate::errors::BybitEnvelope;
use crate::model::{InstrumentRow, InstrumentsResult, TickerRow, TickersResult};
use crate::requests::{
    cursor_of, instruments_page, is_follow_up_page, next_instruments_page, unknown_kind,
    KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS, MAX_INSTRUMENT_PAGES,
};
use crate::CURRENCY_RENAMES;

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    let mut out = ParseOutput::default();
    match kind {
        KIND_INSTRUMENTS => parse_instruments(responses, ctx, &mut out),
        KIND_TICKERS => parse_tickers(RecordKind::TICKER, kind, responses, ctx, &mut out),
        KIND_FUNDING => parse_tickers(RecordKind::FUNDING, kind, responses, ctx, &mut out),
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

// --- instruments -------------------------------------------------------------------------------

/// Rows left out or adjusted while parsing instruments, reported once per call.
#[derive(Default)]
struct InstrumentNotes {
    /// Contract types other than `LinearPerpetual` / `LinearFutures`.
    unknown_contract_type: SkippedSymbols,
    /// Rows without base, quote or settle coin.
    incomplete: SkippedSymbols,
    /// `fundingInterval` in (0, 60): implausible as minutes, taken as hours.
    interval_as_hours: SkippedSymbols,
}

fn parse_instruments(responses: &[HttpResponse<'_>], ctx: &Context<'_>, out: &mut ParseOutput) {
    let mut notes = InstrumentNotes::default();
    for response in responses {
        let tag = response.tag();
        let Opened {
            payload: result,
            time_ms: time,
        } = match open::<BybitEnvelope, InstrumentsResult<'_>>(response, ctx.now_ms) {
            Ok(payload) => payload,
            Err(error) => {
                out.errors.push(error);
                continue;
            }
        };

        if result.list.is_empty() {
            // The last non-empty page still carries a cursor; the page after it is empty.
            if !is_follow_up_page(response.request) {
                out.errors.push(PluginError::parse(
                    tag,
                    "empty instrument list on the first page (category=linear always has instruments)",
                ));
            }
            continue;
        }

        for row in &result.list {
            if let Some(record) =
                instrument_record(row, ctx, response.received_ts, time, &mut notes)
            {
                out.records.push(record);
            }
        }

        let cursor = result
            .next_page_cursor
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if let Some(cursor) = cursor {
            let page = instruments_page(response.request);
            if cursor_of(response.request) == Some(cursor) {
                out.warn(format!(
                    "{tag}: nextPageCursor repeats the request's cursor; stopped paginating"
                ));
            } else if page >= MAX_INSTRUMENT_PAGES {
                out.warn(format!(
                    "{tag}: stopped paginating after {MAX_INSTRUMENT_PAGES} pages; the instrument list may be incomplete"
                ));
            } else {
                out.next_requests
                    .push(next_instruments_page(response.request, cursor));
            }
        }
    }

    notes.unknown_contract_type.report(
        out,
        "of instruments with a contract type other than LinearPerpetual/LinearFutures",
    );
    notes.incomplete.report(
        out,
        "of instruments without symbol, baseCoin, quoteCoin or settleCoin",
    );
    notes.interval_as_hours.report_as(
        out,
        "instruments: fundingInterval below 60 is implausible as minutes; taken as hours",
    );
}

fn instrument_record(
    row: &InstrumentRow<'_>,
    ctx: &Context<'_>,
    received_ts: i64,
    exchange_ts: Option<i64>,
    notes: &mut InstrumentNotes,
) -> Option<Record> {
    match row.contract_type {
        Some("LinearPerpetual") => {}
        // Dated futures (`BTC-26DEC25`) are expected in category=linear and not collected.
        Some("LinearFutures") => return None,
        Some(other) => {
            notes
                .unknown_contract_type
                .add(&format!("{} ({other})", row.symbol));
            return None;
        }
        None => {
            notes
                .unknown_contract_type
                .add(&format!("{} (no contractType)", row.symbol));
            return None;
        }
    }

    let coins = (
        non_empty(row.base_coin),
        non_empty(row.quote_coin),
        non_empty(row.settle_coin),
    );
    let (Some(base), Some(quote), Some(settle)) = coins else {
        notes.incomplete.add(row.symbol);
        return None;
    };
    if row.symbol.trim().is_empty() {
        notes.incomplete.add("(empty symbol)");
        return None;
    }

    let mut r = symbols::instrument_record(
        ctx,
        row.symbol,
        base,
        quote,
        settle,
        MarketType::LINEAR_PERPETUAL,
        received_ts,
        CURRENCY_RENAMES,
    );
    r.exchange_ts = exchange_ts.into();
    // Linear quantities are in the base coin: one contract is one unit of base.
    r.contract_size = RSome(1.0);
    r.tick_size = positive(row.price_filter.as_ref().and_then(|p| p.tick_size));
    if let Some(raw) = non_empty(row.status) {
        r.status = RSome(normalize_status(raw).into());
        r.push_extra("raw_status", raw);
    }
    r.listing_ts = row.launch_time.into();
    r.delisting_ts = row.delivery_time.into();
    if let Some(hours) = interval_hours(row, notes) {
        r.interval_hours = RSome(hours);
        r.interval_source = RSome(IntervalSource::REPORTED);
    }
    r.rate_cap = row.upper_funding_rate.into();
    r.rate_floor = row.lower_funding_rate.into();
    Some(r)
}

/// `fundingInterval` (documented in minutes: 60, 240, 480) in hours. Values in (0, 60) cannot be
/// minutes of a real schedule (the docs example says 8): they are taken as hours, with a warning.
fn interval_hours(row: &InstrumentRow<'_>, notes: &mut InstrumentNotes) -> Option<f64> {
    let value = row.funding_interval.filter(|v| *v > 0.0)?;
    if value < 60.0 {
        notes.interval_as_hours.add(row.symbol);
        Some(value)
    } else {
        Some(value / 60.0)
    }
}

/// Bybit's status word → the record's vocabulary (`trading`, `pre_launch`, `settling`,
/// `delisted`); unknown words are lower-cased.
fn normalize_status(raw: &str) -> String {
    match raw {
        "Trading" => "trading".to_owned(),
        "PreLaunch" => "pre_launch".to_owned(),
        "Delivering" => "settling".to_owned(),
        "Closed" => "delisted".to_owned(),
        other => other.to_lowercase(),
    }
}

// --- tickers and funding -----------------------------------------------------------------------

fn parse_tickers(
    kind: RecordKind,
    kind_name: &str,
    responses: &[HttpResponse<'_>],
    ctx: &Context<'_>,
    out: &mut ParseOutput,
) {
    let mut unknown = SkippedSymbols::new();
    for response in responses {
        let Opened {
            payload: result,
            time_ms: time,
        } = match open::<BybitEnvelope, TickersResult<'_>>(response, ctx.now_ms) {
            Ok(payload) => payload,
            Err(error) => {
                out.errors.push(error);
                continue;
            }
        };
        if result.list.is_empty() {
            out.errors.push(PluginError::parse(
                response.tag(),
                "empty ticker list (category=linear always has tickers)",
            ));
            continue;
        }
        out.records.reserve(result.list.len());
        for row in &result.list {
            let Some(instrument) = ctx.instrument(row.symbol) else {
                unknown.add(row.symbol);
                continue;
            };
            let record = if kind == RecordKind::FUNDING {
                funding_record(row, instrument, response.received_ts, time)
            } else {
                ticker_record(row, instrument, response.received_ts, time)
            };
            out.records.push(record);
        }
    }
    unknown.report(
        out,
        &format!(
            "of {kind_name} that are not known perpetual instruments \
             (dated futures, or not listed by the last instruments cycle)"
        ),
    );
}

fn ticker_record(
    row: &TickerRow<'_>,
    instrument: &Record,
    received_ts: i64,
    exchange_ts: Option<i64>,
) -> Record {
    let mut r = Record::for_instrument(RecordKind::TICKER, instrument, received_ts);
    r.exchange_ts = exchange_ts.into();
    r.last = price(row.last_price);
    r.bid = price(row.bid1_price);
    r.ask = price(row.ask1_price);
    r.mark = price(row.mark_price);
    r.index = price(row.index_price);
    if instrument.market_type == MarketType::INVERSE_PERPETUAL {
        // Inverse: volume and open interest count USD contracts (quote); turnover and open
        // interest value are in the base coin.
        r.volume_24h_base = row.turnover24h.into();
        r.volume_24h_quote = row.volume24h.into();
        r.open_interest_base = row.open_interest_value.into();
        r.open_interest_quote = row.open_interest.into();
    } else {
        r.volume_24h_base = row.volume24h.into();
        r.volume_24h_quote = row.turnover24h.into();
        r.open_interest_base = row.open_interest.into();
        r.open_interest_quote = row.open_interest_value.into();
    }
    r
}

fn funding_record(
    row: &TickerRow<'_>,
    instrument: &Record,
    received_ts: i64,
    exchange_ts: Option<i64>,
) -> Record {
    let mut r = Record::for_instrument(RecordKind::FUNDING, instrument, received_ts);
    r.exchange_ts = exchange_ts.into();
    r.rate = row.funding_rate.into();
    r.next_funding_ts = row.next_funding_time.into();
    r.mark = price(row.mark_price);
    r.index = price(row.index_price);
    // The interval and the cap/floor come from instruments-info, as last collected.
    if let RSome(hours) = instrument.interval_hours {
        r.interval_hours = RSome(hours);
        r.interval_source = match instrument.interval_source {
            RSome(source) => RSome(source),
            RNone => RSome(IntervalSource::REPORTED),
        };
    }
    r.rate_cap = instrument.rate_cap;
    r.rate_floor = instrument.rate_floor;
    r
}

// --- small helpers -----------------------------------------------------------------------------

/// A price: zero or negative is "no price" (an empty book or no trade yet), never a value.
fn price(value: Option<f64>) -> ROption<f64> {
    positive(value)
}

fn positive(value: Option<f64>) -> ROption<f64> {
    value.filter(|v| *v > 0.0).into()
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}
