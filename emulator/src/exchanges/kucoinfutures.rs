//! KuCoin Futures public REST: `/api/v1/contracts/active` (instruments with mark, index, 24 h
//! stats, open interest and funding in one row), `/api/v1/allTickers` (last trade and best
//! bid/ask) and `/api/v1/timestamp`, in KuCoin's `{"code":"200000","data":…}` envelope — and
//! the universe such an instance lists ([`compose`]).
//!
//! Wire conventions copied from KuCoin (exchange-notes §6): most values are JSON numbers, but
//! `openInterest` is a string of contracts and the tickers' prices are strings; bitcoin is
//! `XBT`; the ticker `ts` is in NANOseconds; `nextFundingRateTime` is a countdown in ms (the
//! absolute time is `nextFundingRateDateTime`); linear contracts have a base-coin `multiplier`,
//! inverse ones `-1` (1 USD per contract) and report `volumeOf24h` in USD and `turnoverOf24h`
//! in the coin. Dated futures (`XBTMZ26`-style, type `FFICSX`) are mixed into both lists with
//! null funding fields.
//!
//! Owns: this exchange's universe composition (USDT-linear with a few ×1000 contracts, USDC-
//! linear, inverse, dated, a few paused) and the wire format of its endpoints.
//! Must not: invent values (they come from `market`'s snapshots) or apply faults.

use super::{ApiResponse, Query, Venue};
use crate::{
    config::InstanceConfig,
    json,
    market::{
        apply_statuses, civil_from_days, coins, dated_count, h2, make, quarterly_expiries,
        real_coin, round_to, thousand_multiplied, Contract, Instrument, Spec, Status,
    },
};

/// KuCoin's success code.
pub const SUCCESS: &str = "200000";
/// Contract type codes: perpetual swap and dated future.
pub const PERPETUAL_TYPE: &str = "FFWCSX";
pub const DATED_TYPE: &str = "FFICSX";

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;
/// Nanoseconds per millisecond (the ticker `ts` unit).
const NANOS_PER_MS: u64 = 1_000_000;
/// KuCoin's futures month codes (`XBTMZ26` = December 2026).
const MONTH_CODES: [char; 12] = ['F', 'G', 'H', 'J', 'K', 'M', 'N', 'Q', 'U', 'V', 'X', 'Z'];
/// Every this many synthetic perpetuals, one is `Paused` (still quoted, not tradable).
const PAUSED_EVERY: usize = 90;
const PAUSED_AT: usize = 45;
/// Contract value a synthetic linear contract aims at, in USD (KuCoin sizes them near 1-10 USD).
const TARGET_CONTRACT_USD: f64 = 5.0;

/// KuCoin's code of a coin (`BTC` is `XBT`).
pub fn kucoin_code(coin: &str) -> &str {
    if coin == "BTC" {
        "XBT"
    } else {
        coin
    }
}

/// The universe of a KuCoin Futures instance: USDT-linear perpetuals (×1000 contracts for the
/// tiny coins), about 4% USDC-linear, a few inverse (`XBTUSDM`), up to 4 dated inverse futures,
/// and a few paused synthetic contracts.
pub fn compose(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let dated = dated_count(n);
    let inverse = if n >= 20 { (n / 60).clamp(1, 6) } else { 0 };
    let usdc = if n >= 25 { (n / 25).min(16) } else { 0 };
    let linear = n - dated - inverse - usdc;
    let mut out = Vec::with_capacity(n);
    for (quote, list, contract) in [
        ("USDT", coins(linear), Contract::Perpetual),
        ("USDC", coins(usdc), Contract::Perpetual),
        ("USD", coins(inverse), Contract::InversePerpetual),
    ] {
        for coin in list {
            let (base, mult) = if contract == Contract::Perpetual
                && quote == "USDT"
                && thousand_multiplied(&coin.name)
            {
                (format!("1000{}", coin.name), 1000.0)
            } else {
                (kucoin_code(&coin.name).to_string(), 1.0)
            };
            let code = out.len() as u64;
            out.push(make(Spec {
                cfg,
                symbol: format!("{base}{quote}M"),
                base,
                quote,
                contract,
                mult,
                code,
                coin,
            }));
        }
    }
    let (cur, next) = quarterly_expiries(now_ms);
    for i in 0..dated {
        let Some(coin) = real_coin(i / 2) else { break };
        let expiry_ms = if i % 2 == 0 { cur } else { next };
        let (y, m, _) = civil_from_days((expiry_ms / DAY_MS) as i64);
        let month = MONTH_CODES.get((m - 1) as usize).copied().unwrap_or('Z');
        let base = kucoin_code(&coin.name).to_string();
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!("{base}M{month}{:02}", y % 100),
            base,
            quote: "USD",
            contract: Contract::Quarterly {
                expiry_ms,
                next: i % 2 == 1,
            },
            mult: 1.0,
            code,
            coin,
        }));
    }
    // `PAUSED_AT < PAUSED_EVERY` marks one in PAUSED_EVERY as Settling (shown as `Paused`);
    // a pending position equal to the period never matches, so nothing is pre-launch.
    apply_statuses(
        &mut out,
        now_ms,
        PAUSED_EVERY,
        PAUSED_EVERY,
        Some(PAUSED_AT),
    );
    out
}

/// Answers `path`, or `None` when KuCoin has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, _query: &Query, now_ms: u64) -> Option<ApiResponse> {
    Some(match path {
        "/api/v1/contracts/active" => {
            let list = &venue.universe.instruments;
            data_array(list.len() * 1_400, |a| {
                for inst in list {
                    a.obj(|o| contract_row(o, inst, now_ms));
                }
            })
        }
        "/api/v1/allTickers" => {
            let list: Vec<&Instrument> = venue.universe.trading().collect();
            data_array(list.len() * 260, |a| {
                for inst in &list {
                    a.obj(|o| ticker_row(o, inst, now_ms));
                }
            })
        }
        "/api/v1/timestamp" => {
            let mut b = String::with_capacity(64);
            json::object(&mut b, |o| {
                o.str("code", SUCCESS).int("data", now_ms as i64);
            });
            ApiResponse::json(200, b)
        }
        _ => return None,
    })
}

fn data_array(capacity: usize, f: impl FnOnce(&mut json::Arr<'_>)) -> ApiResponse {
    let mut b = String::with_capacity(64 + capacity);
    json::object(&mut b, |o| {
        o.str("code", SUCCESS).arr("data", f);
    });
    ApiResponse::json(200, b)
}

/// `"key":123.45` (a JSON number, trailing zeros trimmed).
fn number(o: &mut json::Obj<'_>, key: &str, value: f64, places: u32) {
    o.raw(key, &json::fixed(value, places, true));
}

fn is_inverse(inst: &Instrument) -> bool {
    matches!(
        inst.contract,
        Contract::InversePerpetual | Contract::Quarterly { .. }
    )
}

/// KuCoin's `multiplier`: base coin per contract on linear contracts (BTC 0.001, ETH 0.01,
/// others a power of ten worth a few USD), `-1` (one USD) on inverse ones.
pub fn multiplier(inst: &Instrument) -> f64 {
    if is_inverse(inst) {
        return -1.0;
    }
    match inst.rank {
        0 => 0.001,
        1 => 0.01,
        _ => 10f64.powf(
            (TARGET_CONTRACT_USD / inst.level)
                .log10()
                .round()
                .clamp(-4.0, 7.0),
        ),
    }
}

/// Decimals that write a multiplier exactly.
fn multiplier_places(m: f64) -> u32 {
    (-m.abs().log10().floor()).clamp(0.0, 8.0) as u32
}

/// KuCoin's `status` word.
fn status_word(inst: &Instrument) -> &'static str {
    match inst.status {
        Status::Trading => "Open",
        Status::Settling => "Paused",
        Status::PreLaunch => "PrepareOpen",
    }
}

/// The funding index of a perpetual (`.XBTUSDTMFPI8H`).
fn funding_rate_symbol(inst: &Instrument) -> String {
    format!(".{}FPI{}H", inst.symbol, inst.funding_hours)
}

/// Open interest in contracts (linear: base ÷ multiplier; inverse: USD).
pub fn open_interest_contracts(inst: &Instrument, oi_base: f64, mark: f64) -> f64 {
    if is_inverse(inst) {
        (oi_base * mark).round().max(1.0)
    } else {
        (oi_base / multiplier(inst)).round().max(1.0)
    }
}

fn contract_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let mult = multiplier(inst);
    let inverse = is_inverse(inst);
    let dated = !inst.is_perpetual();
    let (settle, expiry) = match inst.contract {
        Contract::Quarterly { expiry_ms, .. } => (inst.base.as_str(), Some(expiry_ms)),
        Contract::InversePerpetual => (inst.base.as_str(), None),
        Contract::Perpetual => (inst.quote, None),
    };
    o.str("symbol", &inst.symbol)
        .str("rootSymbol", settle)
        .str("type", if dated { DATED_TYPE } else { PERPETUAL_TYPE })
        .int("firstOpenDate", inst.listed_ms as i64);
    match expiry {
        Some(at) => o.int("expireDate", at as i64).int("settleDate", at as i64),
        None => o.null("expireDate").null("settleDate"),
    };
    o.str("baseCurrency", &inst.base)
        .str("quoteCurrency", inst.quote)
        .str("settleCurrency", settle)
        .int("maxOrderQty", 1_000_000);
    number(o, "maxPrice", 1_000_000.0, 0);
    o.int("lotSize", 1);
    number(o, "tickSize", inst.tick(), pd);
    number(o, "indexPriceTickSize", inst.tick() / 100.0, pd + 2);
    number(o, "multiplier", mult, multiplier_places(mult));
    number(o, "initialMargin", 0.01, 2);
    number(o, "maintainMargin", 0.005, 3);
    number(o, "makerFeeRate", 0.0002, 4);
    number(o, "takerFeeRate", 0.0006, 4);
    o.bool("isDeleverage", true)
        .bool("isQuanto", false)
        .bool("isInverse", inverse)
        .str("markMethod", "FairPrice")
        .str(
            "fairMethod",
            if dated { "FairPrice" } else { "FundingRate" },
        )
        .str("indexSymbol", &format!(".K{}{}", inst.base, inst.quote))
        .str("status", status_word(inst));
    if dated {
        o.null("fundingRateSymbol")
            .null("fundingFeeRate")
            .null("predictedFundingFeeRate")
            .null("fundingRateGranularity")
            .null("currentFundingRateGranularity")
            .null("fundingRateCap")
            .null("fundingRateFloor")
            .null("nextFundingRateTime")
            .null("nextFundingRateDateTime");
    } else {
        let interval = u64::from(inst.funding_hours) * HOUR_MS;
        let predicted = (s.funding_rate * 0.8 + s.prev_funding_rate * 0.2)
            .clamp(inst.funding_floor, inst.funding_cap);
        o.str("fundingRateSymbol", &funding_rate_symbol(inst));
        number(o, "fundingFeeRate", s.funding_rate, 6);
        number(o, "predictedFundingFeeRate", predicted, 6);
        o.int("fundingRateGranularity", interval as i64)
            .int("currentFundingRateGranularity", interval as i64);
        number(o, "fundingRateCap", inst.funding_cap, 6);
        number(o, "fundingRateFloor", inst.funding_floor, 6);
        o.int(
            "nextFundingRateTime",
            s.next_funding_ms.saturating_sub(now_ms) as i64,
        )
        .int("nextFundingRateDateTime", s.next_funding_ms as i64);
    }
    let oi = open_interest_contracts(inst, s.oi_base, s.mark);
    o.str("openInterest", &json::fixed(oi, 0, true));
    // Linear: volume in base, turnover in quote; inverse: volume in USD, turnover in the coin.
    let (volume, turnover) = if inverse {
        (s.vol_quote.round(), round_to(s.vol_base, 8))
    } else {
        (round_to(s.vol_base, inst.qty_dp), round_to(s.vol_quote, 4))
    };
    number(o, "turnoverOf24h", turnover, 8);
    number(o, "volumeOf24h", volume, 8);
    number(o, "markPrice", s.mark, pd);
    number(o, "indexPrice", s.index, pd + 2);
    number(o, "lastTradePrice", s.last, pd);
    o.int("maxLeverage", if inst.real { 100 } else { 50 });
    number(o, "lowPrice", s.low_24h, pd);
    number(o, "highPrice", s.high_24h, pd);
    number(o, "priceChgPct", (s.last - s.open_24h) / s.open_24h, 4);
    number(o, "priceChg", s.last - s.open_24h, pd);
}

fn ticker_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let mark = s.mark.max(f64::MIN_POSITIVE);
    let size = |qty: f64| open_interest_contracts(inst, qty, mark).max(1.0);
    let sub_ms = h2(inst.h ^ 0x7c, s.ts_ms) % NANOS_PER_MS;
    o.int("sequence", s.last_id as i64)
        .str("symbol", &inst.symbol)
        .str(
            "side",
            if (inst.h ^ s.ts_ms) & 1 == 0 {
                "buy"
            } else {
                "sell"
            },
        )
        .raw("size", &json::fixed(size(s.last_qty), 0, true))
        .str("tradeId", &s.last_id.to_string())
        .str("price", &json::fixed(s.last, pd, true))
        .str("bestBidPrice", &json::fixed(s.bid, pd, true))
        .raw("bestBidSize", &json::fixed(size(s.bid_qty), 0, true))
        .str("bestAskPrice", &json::fixed(s.ask, pd, true))
        .raw("bestAskSize", &json::fixed(size(s.ask_qty), 0, true))
        .int("ts", (s.ts_ms * NANOS_PER_MS + sub_ms) as i64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::ExchangeKind, exchanges::respond as route};

    fn venue(universe: usize) -> Venue {
        Venue::new(InstanceConfig {
            universe,
            ..InstanceConfig::new("kucoinfutures", ExchangeKind::KucoinFutures)
        })
    }

    fn get(v: &Venue, path: &str, now: u64) -> serde_json::Value {
        let r = route(v, "GET", path, &Query::default(), now);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn universe_mixes_linear_usdc_inverse_dated_and_paused() {
        let v = venue(400);
        let list = &v.universe.instruments;
        assert_eq!(list.len(), 400);
        let has = |s: &str| v.universe.get(s).is_some();
        for s in [
            "XBTUSDTM",
            "ETHUSDTM",
            "1000PEPEUSDTM",
            "XBTUSDCM",
            "XBTUSDM",
        ] {
            assert!(has(s), "{s}");
        }
        assert_eq!(list.iter().filter(|i| !i.is_perpetual()).count(), 4);
        assert!(list.iter().any(|i| i.status == Status::Settling));
        assert!(list.iter().all(|i| i.status != Status::PreLaunch));
        let hours: std::collections::BTreeSet<u32> = list
            .iter()
            .filter(|i| i.is_perpetual())
            .map(|i| i.funding_hours)
            .collect();
        assert_eq!(hours.into_iter().collect::<Vec<_>>(), [1, 4, 8]);
    }

    #[test]
    fn contracts_active_speaks_kucoin_units() {
        let v = venue(200);
        let now = 1_790_000_123_456;
        let body = get(&v, "/api/v1/contracts/active", now);
        assert_eq!(body["code"], SUCCESS);
        let rows = body["data"].as_array().unwrap();
        assert_eq!(rows.len(), 200);
        let btc = rows.iter().find(|r| r["symbol"] == "XBTUSDTM").unwrap();
        assert_eq!(btc["baseCurrency"], "XBT");
        assert_eq!(btc["multiplier"].as_f64(), Some(0.001));
        assert!(btc["openInterest"].is_string());
        assert!(btc["markPrice"].is_number());
        let next = btc["nextFundingRateDateTime"].as_u64().unwrap();
        let countdown = btc["nextFundingRateTime"].as_u64().unwrap();
        assert_eq!(next, now + countdown);
        assert_eq!(next % (8 * HOUR_MS), 0);
        assert_eq!(btc["fundingRateGranularity"], 28_800_000);
        let inv = rows.iter().find(|r| r["symbol"] == "XBTUSDM").unwrap();
        assert_eq!(inv["multiplier"].as_f64(), Some(-1.0));
        assert_eq!(inv["isInverse"], true);
        assert_eq!(inv["settleCurrency"], "XBT");
        let dated = rows.iter().find(|r| r["type"] == DATED_TYPE).unwrap();
        assert!(dated["expireDate"].is_u64());
        assert!(dated["nextFundingRateTime"].is_null() && dated["fundingFeeRate"].is_null());
    }

    #[test]
    fn all_tickers_have_nanosecond_ts_and_string_prices() {
        let v = venue(100);
        let now = 1_790_000_123_456;
        let body = get(&v, "/api/v1/allTickers", now);
        for row in body["data"].as_array().unwrap() {
            let ts = row["ts"].as_u64().unwrap();
            assert!(ts > 1u64 << 53, "{row}");
            assert!(ts / NANOS_PER_MS / 1_000 <= now / 1_000, "{row}");
            let bid: f64 = row["bestBidPrice"].as_str().unwrap().parse().unwrap();
            let ask: f64 = row["bestAskPrice"].as_str().unwrap().parse().unwrap();
            assert!(bid < ask, "{row}");
        }
        assert_eq!(
            get(&v, "/api/v1/timestamp", now)["data"].as_u64(),
            Some(now)
        );
        let r = route(&v, "GET", "/api/v2/nothing", &Query::default(), now);
        assert_eq!(r.status, 404);
    }
}
