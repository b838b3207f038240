//! OKX v5 public REST for perpetual swaps: instruments, market tickers, mark price, open
//! interest, index tickers and funding rate, in OKX's `{"code":"0","msg":"","data":[...]}`
//! envelope with every value a string (trailing zeros trimmed, as OKX sends them).
//!
//! Sizes follow OKX's contract conventions: `vol24h`, `oi`, `askSz`/`bidSz` are in contracts;
//! `volCcy24h`/`oiCcy` in the coin (linear: contracts × ctVal; inverse: contracts × ctVal / price);
//! `oiUsd` = `oiCcy` × mark.
//!
//! Owns: the wire format of these endpoints, `instId=ANY` and its per-instance refusal.
//! Must not: invent values (they come from `market`) or apply faults.

use std::collections::HashSet;

use super::{default_error_msg, error_envelope, ApiResponse, Query, Venue};
use crate::{
    config::ExchangeKind,
    json,
    market::{round_to, Contract, Instrument, Snap},
};

/// Answers `path`, or `None` when OKX has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    Some(match path {
        "/api/v5/public/instruments" => by_inst_type(venue, query, now_ms, 1_100, instrument_row),
        "/api/v5/market/tickers" => by_inst_type(venue, query, now_ms, 420, ticker_row),
        "/api/v5/public/mark-price" => by_inst_type(venue, query, now_ms, 120, mark_row),
        "/api/v5/public/open-interest" => by_inst_type(venue, query, now_ms, 160, oi_row),
        "/api/v5/market/index-tickers" => index_tickers(venue, query, now_ms),
        "/api/v5/public/funding-rate" => funding_rate(venue, query, now_ms),
        "/api/v5/public/time" => data(1, |a| {
            a.obj(|o| {
                o.int_str("ts", now_ms as i64);
            });
        }),
        _ => return None,
    })
}

/// An OKX error answer (HTTP 200, `code != "0"`, empty `data`).
pub fn error(code: i64, msg: &str, now_ms: u64) -> ApiResponse {
    let msg = if msg.is_empty() {
        default_error_msg(ExchangeKind::Okx, code)
    } else {
        msg
    };
    ApiResponse::json(200, error_envelope(ExchangeKind::Okx, code, msg, now_ms))
}

fn data(capacity_rows: usize, f: impl FnOnce(&mut json::Arr<'_>)) -> ApiResponse {
    let mut b = String::with_capacity(64 + capacity_rows);
    json::object(&mut b, |o| {
        o.str("code", "0").str("msg", "").arr("data", f);
    });
    ApiResponse::json(200, b)
}

type RowFn = fn(&mut json::Obj<'_>, &Instrument, u64);

/// Endpoints keyed by `instType` (required) with an optional `instId` filter.
fn by_inst_type(
    venue: &Venue,
    query: &Query,
    now_ms: u64,
    row_size: usize,
    row: RowFn,
) -> ApiResponse {
    let swap = match query.non_empty("instType") {
        None => return error(50014, "Parameter instType can not be empty.", now_ms),
        Some("SWAP") => true,
        Some("SPOT" | "MARGIN" | "FUTURES" | "OPTION") => false,
        Some(_) => return error(51000, "Parameter instType error", now_ms),
    };
    let list: Vec<&Instrument> = if !swap {
        Vec::new()
    } else if let Some(id) = query.non_empty("instId") {
        match venue.universe.get(id) {
            Some(inst) => vec![inst],
            None => return error(51001, "Instrument ID does not exist", now_ms),
        }
    } else {
        venue.universe.instruments.iter().collect()
    };
    data(row_size * list.len(), |a| {
        for inst in &list {
            a.obj(|o| row(o, inst, now_ms));
        }
    })
}

fn inverse(inst: &Instrument) -> bool {
    inst.contract == Contract::InversePerpetual
}

fn family(inst: &Instrument) -> String {
    format!("{}-{}", inst.coin, inst.quote)
}

fn instrument_row(o: &mut json::Obj<'_>, inst: &Instrument, _now_ms: u64) {
    let lot = 10f64.powi(-(inst.lot_dp as i32));
    let (ct_type, ct_val_ccy, settle) = if inverse(inst) {
        ("inverse", "USD", inst.coin.as_str())
    } else {
        ("linear", inst.coin.as_str(), inst.quote)
    };
    let fam = family(inst);
    let max_sz = if inst.real { "12000" } else { "50000" };
    o.str("alias", "")
        .str("auctionEndTime", "")
        .str("baseCcy", "")
        .str("category", "1")
        .str("contTdSwTime", "")
        .str("ctMult", "1")
        .str("ctType", ct_type)
        .dec_trim("ctVal", inst.ct_val, 4)
        .str("ctValCcy", ct_val_ccy)
        .str("expTime", "")
        .bool("futureSettlement", false)
        .str("instFamily", &fam)
        .str("instId", &inst.symbol)
        .int("instIdCode", inst.code as i64)
        .str("instType", "SWAP")
        .str("lever", if inst.real { "100" } else { "50" })
        .int_str("listTime", inst.listed_ms as i64)
        .dec_trim("lotSz", lot, inst.lot_dp)
        .str("maxIcebergSz", "100000000.0000000000000000")
        .str("maxLmtAmt", "20000000")
        .str("maxLmtSz", "100000000")
        .str("maxMktAmt", "")
        .str("maxMktSz", max_sz)
        .str("maxPlatOILmt", "")
        .str("maxStopSz", max_sz)
        .str("maxTriggerSz", "100000000.0000000000000000")
        .str("maxTwapSz", "100000000.0000000000000000")
        .dec_trim("minSz", lot, inst.lot_dp)
        .str("openType", "")
        .str("optType", "")
        .str("posLmtAmt", "")
        .str("posLmtPct", "")
        .str("preMktSwTime", "")
        .str("quoteCcy", "")
        .str("ruleType", "normal")
        .str("settleCcy", settle)
        .str("state", "live")
        .str("stk", "")
        .dec_trim("tickSz", inst.tick(), inst.price_dp)
        .raw("tradeQuoteCcyList", "[]")
        .str("uly", &fam);
}

/// Base-unit quantity → contracts (at least one lot).
fn contracts(inst: &Instrument, base_qty: f64, price: f64) -> f64 {
    let raw = if inverse(inst) {
        base_qty * price / inst.ct_val
    } else {
        base_qty / inst.ct_val
    };
    round_to(raw, inst.lot_dp).max(10f64.powi(-(inst.lot_dp as i32)))
}

/// Contracts → coin units.
fn coin_qty(inst: &Instrument, contracts: f64, price: f64) -> f64 {
    if inverse(inst) {
        contracts * inst.ct_val / price
    } else {
        contracts * inst.ct_val
    }
}

fn ticker_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let (pd, ld) = (inst.price_dp, inst.lot_dp);
    let vol = if inverse(inst) {
        round_to(s.vol_quote / inst.ct_val, ld)
    } else {
        round_to(s.vol_base / inst.ct_val, ld)
    };
    o.str("instType", "SWAP")
        .str("instId", &inst.symbol)
        .dec_trim("last", s.last, pd)
        .dec_trim("lastSz", contracts(inst, s.last_qty, s.last), ld)
        .dec_trim("askPx", s.ask, pd)
        .dec_trim("askSz", contracts(inst, s.ask_qty, s.ask), ld)
        .dec_trim("bidPx", s.bid, pd)
        .dec_trim("bidSz", contracts(inst, s.bid_qty, s.bid), ld)
        .dec_trim("open24h", s.open_24h, pd)
        .dec_trim("high24h", s.high_24h, pd)
        .dec_trim("low24h", s.low_24h, pd)
        .dec_trim("volCcy24h", coin_qty(inst, vol, s.last), 8)
        .dec_trim("vol24h", vol, ld)
        .int_str("ts", s.ts_ms as i64)
        .dec_trim("sodUtc0", s.prev_1h, pd)
        .dec_trim("sodUtc8", s.open_24h, pd);
}

fn mark_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    o.str("instType", "SWAP")
        .str("instId", &inst.symbol)
        .dec_trim("markPx", s.mark, inst.price_dp)
        .int_str("ts", s.ts_ms as i64);
}

fn oi_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let oi = contracts(inst, s.oi_base, s.mark);
    let oi_ccy = coin_qty(inst, oi, s.mark);
    o.str("instType", "SWAP")
        .str("instId", &inst.symbol)
        .dec_trim("oi", oi, inst.lot_dp)
        .dec_trim("oiCcy", oi_ccy, 8)
        .dec_trim("oiUsd", oi_ccy * s.mark, 4)
        .int_str("ts", s.ts_ms as i64);
}

fn index_tickers(venue: &Venue, query: &Query, now_ms: u64) -> ApiResponse {
    let quote = query.non_empty("quoteCcy");
    let inst_id = query.non_empty("instId");
    if quote.is_none() && inst_id.is_none() {
        return error(
            50014,
            "Parameter quoteCcy or instId can not be empty.",
            now_ms,
        );
    }
    // One index per (coin, quote): USDT/USDC where such swaps are listed, USD for every coin.
    let mut seen = HashSet::new();
    let mut rows: Vec<(String, &Instrument)> = Vec::new();
    for inst in &venue.universe.instruments {
        let quotes: &[&str] = if inverse(inst) {
            &["USD"]
        } else {
            &[inst.quote, "USD"]
        };
        for q in quotes {
            if quote.is_some_and(|want| want != *q) {
                continue;
            }
            let id = format!("{}-{q}", inst.coin);
            if inst_id.is_some_and(|want| want != id) || !seen.insert(id.clone()) {
                continue;
            }
            rows.push((id, inst));
        }
    }
    data(200 * rows.len(), |a| {
        for (id, inst) in &rows {
            let s: Snap = inst.snapshot(now_ms);
            // Index prices are per coin: undo the ×1000 of a multiplied contract.
            let per = 1.0 / inst.mult;
            let pd = inst.price_dp + if inst.mult > 1.0 { 3 } else { 0 };
            a.obj(|o| {
                o.str("instId", id)
                    .dec_trim("idxPx", s.index * per, pd)
                    .dec_trim("high24h", s.high_24h * per, pd)
                    .dec_trim("sodUtc0", s.prev_1h * per, pd)
                    .dec_trim("open24h", s.open_24h * per, pd)
                    .dec_trim("low24h", s.low_24h * per, pd)
                    .dec_trim("sodUtc8", s.open_24h * per, pd)
                    .int_str("ts", s.ts_ms as i64);
            });
        }
    })
}

fn funding_rate(venue: &Venue, query: &Query, now_ms: u64) -> ApiResponse {
    let list: Vec<&Instrument> = match query.non_empty("instId") {
        None => return error(50014, "Parameter instId can not be empty.", now_ms),
        Some("ANY") if venue.cfg.okx_refuse_any => {
            return error(51000, "Parameter instId error", now_ms)
        }
        Some("ANY") => venue.universe.instruments.iter().collect(),
        Some(id) => match venue.universe.get(id) {
            Some(inst) => vec![inst],
            None => return error(51001, "Instrument ID does not exist", now_ms),
        },
    };
    data(520 * list.len(), |a| {
        for inst in &list {
            a.obj(|o| funding_row(o, inst, now_ms));
        }
    })
}

fn funding_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let interval = u64::from(inst.funding_hours) * 3_600_000;
    let funding_time = s.next_funding_ms;
    let settling = now_ms.saturating_sub(funding_time.saturating_sub(interval)) < 60_000;
    o.str("formulaType", "withRate")
        .dec_trim("fundingRate", s.funding_rate, 16)
        .int_str("fundingTime", funding_time as i64);
    o.str(
        "impactValue",
        if inst.real {
            "20000.0000000000000000"
        } else {
            "2000.0000000000000000"
        },
    )
    .str("instId", &inst.symbol)
    .str("instType", "SWAP")
    .dec_trim("interestRate", inst.interest_rate(), 8)
    .dec_trim("maxFundingRate", inst.funding_cap, 6)
    .str(
        "method",
        if inst.okx_next_period {
            "next_period"
        } else {
            "current_period"
        },
    )
    .dec_trim("minFundingRate", inst.funding_floor, 6);
    if inst.okx_next_period {
        o.dec_trim(
            "nextFundingRate",
            (s.funding_rate * 0.8 + s.prev_funding_rate * 0.2)
                .clamp(inst.funding_floor, inst.funding_cap),
            16,
        );
    } else {
        o.str("nextFundingRate", "");
    }
    o.int_str("nextFundingTime", (funding_time + interval) as i64)
        .dec_trim("premium", (s.mark - s.index) / s.index, 16)
        .dec_trim("settFundingRate", s.prev_funding_rate, 16)
        .str("settState", if settling { "processing" } else { "settled" })
        .int_str("ts", now_ms as i64);
}
