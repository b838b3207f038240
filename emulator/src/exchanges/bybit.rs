//! Bybit v5 public market REST, category `linear`: `/v5/market/instruments-info` (cursor
//! pagination) and `/v5/market/tickers`, in Bybit's `{"retCode":0,"retMsg":"OK","result":...}`
//! envelope with every number as a string except `time` and `fundingInterval`.
//!
//! Pagination reproduces Bybit's quirk: every non-empty page, the last one included, carries a
//! non-empty `nextPageCursor`; following the last one yields an empty `list` and
//! `nextPageCursor: ""`. Cursors look like Bybit's (`next%3D500%26chk%3D...`, URL-escaped inside
//! the value) and are accepted whether the client re-encodes them or not.
//!
//! Owns: the wire format of these endpoints and the cursor encoding.
//! Must not: invent values (they come from `market`) or apply faults.

use super::{default_error_msg, error_envelope, ApiResponse, Query, Venue};
use crate::{
    config::ExchangeKind,
    json,
    market::{h2, Contract, Instrument, Status},
};

pub const DEFAULT_LIMIT: usize = 500;
pub const MAX_LIMIT: usize = 1000;

/// Answers `path`, or `None` when Bybit has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, query: &Query, now_ms: u64) -> Option<ApiResponse> {
    Some(match path {
        "/v5/market/instruments-info" => instruments_info(venue, query, now_ms),
        "/v5/market/tickers" => tickers(venue, query, now_ms),
        "/v5/market/time" => {
            let secs = now_ms / 1000;
            let nanos = now_ms * 1_000_000;
            ok(now_ms, |o| {
                o.str("timeSecond", &secs.to_string())
                    .str("timeNano", &nanos.to_string());
            })
        }
        _ => return None,
    })
}

/// A Bybit error answer (HTTP 200, `retCode != 0`).
pub fn error(code: i64, msg: &str, now_ms: u64) -> ApiResponse {
    let msg = if msg.is_empty() {
        default_error_msg(ExchangeKind::Bybit, code)
    } else {
        msg
    };
    ApiResponse::json(200, error_envelope(ExchangeKind::Bybit, code, msg, now_ms))
}

fn ok(now_ms: u64, result: impl FnOnce(&mut json::Obj<'_>)) -> ApiResponse {
    ok_sized(now_ms, 256, result)
}

fn ok_sized(now_ms: u64, capacity: usize, result: impl FnOnce(&mut json::Obj<'_>)) -> ApiResponse {
    let mut b = String::with_capacity(capacity);
    json::object(&mut b, |o| {
        o.int("retCode", 0)
            .str("retMsg", "OK")
            .obj("result", result)
            .raw("retExtInfo", "{}")
            .int("time", now_ms as i64);
    });
    ApiResponse::json(200, b)
}

/// `None` when the category is `linear`, else the error answer.
fn check_category(query: &Query, now_ms: u64) -> Option<ApiResponse> {
    match query.get("category") {
        Some("linear") => None,
        Some(_) | None => Some(error(10001, "params error: category is invalid", now_ms)),
    }
}

/// The cursor that continues at `offset` (escaped as Bybit escapes it).
pub fn encode_cursor(seed: u64, offset: usize) -> String {
    format!(
        "next%3D{offset}%26chk%3D{:06x}",
        h2(seed, offset as u64) & 0xff_ffff
    )
}

/// The offset a cursor continues at; accepts the escaped and the decoded form.
pub fn decode_cursor(seed: u64, cursor: &str) -> Option<usize> {
    let decoded = cursor
        .replace("%3D", "=")
        .replace("%3d", "=")
        .replace("%26", "&");
    let rest = decoded.strip_prefix("next=")?;
    let (offset, chk) = rest.split_once("&chk=")?;
    let offset: usize = offset.parse().ok()?;
    let chk = u64::from_str_radix(chk, 16).ok()?;
    (chk == h2(seed, offset as u64) & 0xff_ffff).then_some(offset)
}

fn instruments_info(venue: &Venue, query: &Query, now_ms: u64) -> ApiResponse {
    if let Some(err) = check_category(query, now_ms) {
        return err;
    }
    let all = &venue.universe.instruments;
    if let Some(symbol) = query.non_empty("symbol") {
        let one: Vec<&Instrument> = venue.universe.get(symbol).into_iter().collect();
        return ok(now_ms, |o| {
            o.str("category", "linear").arr("list", |a| {
                for inst in &one {
                    a.obj(|o| instrument_row(o, inst));
                }
            });
            o.str("nextPageCursor", "");
        });
    }
    let limit = match query.non_empty("limit").map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if n >= 1 => n.min(MAX_LIMIT),
        Some(_) => return error(10001, "params error: limit is invalid", now_ms),
    };
    let offset = match query.non_empty("cursor") {
        None => 0,
        Some(c) => match decode_cursor(venue.cfg.seed, c) {
            Some(off) => off.min(all.len()),
            None => return error(10001, "params error: cursor is invalid", now_ms),
        },
    };
    let page = &all[offset..(offset + limit).min(all.len())];
    let next = if page.is_empty() {
        String::new()
    } else {
        encode_cursor(venue.cfg.seed, offset + page.len())
    };
    ok_sized(now_ms, 256 + 1_100 * page.len(), |o| {
        o.str("category", "linear")
            .arr("list", |a| {
                for inst in page {
                    a.obj(|o| instrument_row(o, inst));
                }
            })
            .str("nextPageCursor", &next);
    })
}

fn status_word(inst: &Instrument) -> &'static str {
    match inst.status {
        Status::Trading => "Trading",
        Status::PreLaunch => "PreLaunch",
        Status::Settling => "Settling",
    }
}

fn instrument_row(o: &mut json::Obj<'_>, inst: &Instrument) {
    let (pd, qd) = (inst.price_dp, inst.qty_dp);
    let max_qty = (2.0e6 / inst.level).max(inst.step() * 10.0);
    let (contract_type, delivery, delivery_fee) = match inst.contract {
        Contract::Quarterly { expiry_ms, .. } => ("LinearFutures", expiry_ms.to_string(), "0.0005"),
        _ => ("LinearPerpetual", "0".to_string(), ""),
    };
    o.str("symbol", &inst.symbol)
        .str("contractType", contract_type)
        .str("status", status_word(inst))
        .str("baseCoin", &inst.base)
        .str("quoteCoin", inst.quote)
        .str("launchTime", &inst.listed_ms.to_string())
        .str("deliveryTime", &delivery)
        .str("deliveryFeeRate", delivery_fee)
        .str("priceScale", &pd.to_string())
        .obj("leverageFilter", |f| {
            f.str("minLeverage", "1")
                .str("maxLeverage", if inst.real { "100.00" } else { "25.00" })
                .str("leverageStep", "0.01");
        })
        .obj("priceFilter", |f| {
            f.dec("minPrice", (inst.level * 0.001).max(inst.tick()), pd)
                .dec("maxPrice", inst.level * 20.0, pd)
                .dec("tickSize", inst.tick(), pd);
        })
        .obj("lotSizeFilter", |f| {
            f.dec("maxOrderQty", max_qty, qd)
                .dec("minOrderQty", inst.step(), qd)
                .dec("qtyStep", inst.step(), qd)
                .dec("postOnlyMaxOrderQty", max_qty, qd)
                .dec("maxMktOrderQty", max_qty / 4.0, qd)
                .str("minNotionalValue", "5");
        })
        .bool("unifiedMarginTrade", true)
        .int("fundingInterval", i64::from(inst.funding_hours) * 60)
        .str("settleCoin", inst.quote)
        .str("copyTrading", if inst.real { "both" } else { "none" });
    if inst.is_perpetual() {
        o.dec_trim("upperFundingRate", inst.funding_cap, 6)
            .dec_trim("lowerFundingRate", inst.funding_floor, 6);
    } else {
        o.str("upperFundingRate", "").str("lowerFundingRate", "");
    }
    o.bool("isPreListing", false)
        .null("preListingInfo")
        .obj("riskParameters", |f| {
            f.str("priceLimitRatioX", "0.01")
                .str("priceLimitRatioY", "0.02");
        })
        .str("displayName", "");
}

fn tickers(venue: &Venue, query: &Query, now_ms: u64) -> ApiResponse {
    if let Some(err) = check_category(query, now_ms) {
        return err;
    }
    let selected: Vec<&Instrument> = match query.non_empty("symbol") {
        Some(symbol) => match venue.universe.get(symbol).filter(|i| i.is_trading()) {
            Some(inst) => vec![inst],
            None => return error(10001, "params error: symbol invalid", now_ms),
        },
        None => venue.universe.trading().collect(),
    };
    ok_sized(now_ms, 256 + 700 * selected.len(), |o| {
        o.str("category", "linear").arr("list", |a| {
            for inst in &selected {
                a.obj(|o| ticker_row(o, inst, now_ms));
            }
        });
    })
}

fn ticker_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let (pd, qd) = (inst.price_dp, inst.qty_dp);
    o.str("symbol", &inst.symbol)
        .dec("lastPrice", s.last, pd)
        .dec("indexPrice", s.index, pd)
        .dec("markPrice", s.mark, pd)
        .dec("prevPrice24h", s.open_24h, pd)
        .dec("price24hPcnt", s.last / s.open_24h - 1.0, 6)
        .dec("highPrice24h", s.high_24h, pd)
        .dec("lowPrice24h", s.low_24h, pd)
        .dec("prevPrice1h", s.prev_1h, pd)
        .dec("openInterest", s.oi_base, qd)
        .dec("openInterestValue", s.oi_base * s.mark, 2)
        .dec("turnover24h", s.vol_quote, 4)
        .dec("volume24h", s.vol_base, qd.max(1));
    match inst.contract {
        Contract::Quarterly { expiry_ms, .. } => {
            let basis = s.last - s.index;
            o.str("fundingRate", "")
                .str("nextFundingTime", "0")
                .str("predictedDeliveryPrice", "")
                .dec("basisRate", basis / s.index, 8)
                .str("deliveryFeeRate", "0.0005")
                .str("deliveryTime", &expiry_ms.to_string());
            ticker_book(o, inst, &s);
            o.dec("basis", basis, pd);
        }
        _ => {
            o.dec_trim("fundingRate", s.funding_rate, 8)
                .str("nextFundingTime", &s.next_funding_ms.to_string())
                .str("predictedDeliveryPrice", "")
                .str("basisRate", "")
                .str("deliveryFeeRate", "")
                .str("deliveryTime", "0");
            ticker_book(o, inst, &s);
            o.str("basis", "");
        }
    }
    o.str("preOpenPrice", "")
        .str("preQty", "")
        .str("curPreListingPhase", "");
}

fn ticker_book(o: &mut json::Obj<'_>, inst: &Instrument, s: &crate::market::Snap) {
    let (pd, qd) = (inst.price_dp, inst.qty_dp);
    o.dec("ask1Size", s.ask_qty, qd)
        .dec("bid1Price", s.bid, pd)
        .dec("ask1Price", s.ask, pd)
        .dec("bid1Size", s.bid_qty, qd);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_roundtrips_in_both_forms() {
        let c = encode_cursor(7, 500);
        assert_eq!(decode_cursor(7, &c), Some(500));
        let decoded = c.replace("%3D", "=").replace("%26", "&");
        assert_eq!(decode_cursor(7, &decoded), Some(500));
        assert_eq!(decode_cursor(8, &c), None);
        assert_eq!(decode_cursor(7, "garbage"), None);
    }
}
