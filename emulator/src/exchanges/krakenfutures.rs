//! Kraken Futures public REST: `GET /derivatives/api/v3/instruments` (every contract and index)
//! and `GET /derivatives/api/v3/tickers` (every ticker, with the funding fields on perpetuals),
//! both `{"result":"success","serverTime":…,"<list>":[…]}`; errors
//! `{"result":"error","serverTime":…,"error":"apiLimitExceeded"}` — and the universe such an
//! instance lists ([`compose`]).
//!
//! Wire conventions copied from Kraken (exchange-notes §13): numbers are JSON numbers, times
//! ISO-8601 strings (`serverTime` with milliseconds, `lastTime` with microseconds,
//! `openingDate` without a fraction); bitcoin is `XBT` in symbols (`PF_XBTUSD`) and `BTC` in
//! `base`; multi-collateral linear perpetuals are `PF_<COIN>USD` (`flexible_futures`, 1 contract
//! = 1 coin), inverse ones `PI_<COIN>USD` (`futures_inverse`, 1 contract = 1 USD); funding is
//! HOURLY and `fundingRate`/`fundingRatePrediction` are ABSOLUTE amounts per contract: the
//! relative rate × mark on `PF_`, ÷ mark on `PI_` (so a collector must divide or multiply to get
//! the fraction back); the tickers carry no settlement time and no relative rate; `vol24h` and
//! `openInterest` count contracts; dated futures (`FI_XBTUSD_261225` inverse, `FF_XBTUSD_270326`
//! linear — the same `type` as the perpetuals, told apart by `lastTradingTime` and their `tag`)
//! and the `in_`/`rr_` indices are mixed into both lists.
//!
//! Owns: this exchange's universe composition (PF_ linear perpetuals, a few PI_ inverse ones, up
//! to 4 dated futures, a few not yet tradeable and a few suspended), the relative → absolute
//! funding conversion the exchange applies, and the wire format of its endpoints.
//! Must not: invent values (they come from `market`'s snapshots) or apply faults.

use super::{ApiResponse, Query, Venue};
use crate::{
    config::InstanceConfig,
    json,
    market::{
        apply_statuses, civil_from_days, coins, dated_count, h2, iso8601, make, quarterly_expiries,
        real_coin, Contract, Instrument, Spec, Status,
    },
};

pub const PATH_INSTRUMENTS: &str = "/derivatives/api/v3/instruments";
pub const PATH_TICKERS: &str = "/derivatives/api/v3/tickers";
/// Contract types: linear (multi-collateral) and inverse.
pub const LINEAR_TYPE: &str = "flexible_futures";
pub const INVERSE_TYPE: &str = "futures_inverse";
/// Symbol prefixes: linear and inverse perpetuals, inverse and linear dated futures.
pub const LINEAR_PREFIX: &str = "PF_";
pub const INVERSE_PREFIX: &str = "PI_";
const DATED_INVERSE_PREFIX: &str = "FI_";
const DATED_LINEAR_PREFIX: &str = "FF_";
/// Kraken caps the relative funding rate at ±0.25 % per hour (`maxRelativeFundingRate`).
pub const MAX_RELATIVE_FUNDING_RATE: f64 = 0.0025;
/// Kraken funds every hour.
pub const FUNDING_HOURS: u32 = 1;
/// Every this many synthetic perpetuals, one is not tradeable yet and one is suspended.
const STATUS_EVERY: usize = 70;
const PRE_LAUNCH_AT: usize = 35;
const SUSPENDED_AT: usize = 60;
/// Coins whose spot index (`in_…`) and settlement index (`rr_…`) are listed.
const INDEXED_COINS: usize = 2;

/// Kraken's code of a coin in symbols (`BTC` is `XBT`).
pub fn kraken_code(coin: &str) -> &str {
    if coin == "BTC" {
        "XBT"
    } else {
        coin
    }
}

/// The absolute funding amount Kraken serves for a relative rate: per contract of 1 coin
/// (`PF_`) the rate × mark in USD; per contract of 1 USD (`PI_`) the rate ÷ mark in coin.
pub fn absolute_funding(relative: f64, mark: f64, inverse: bool) -> f64 {
    if inverse {
        relative / mark
    } else {
        relative * mark
    }
}

/// The next hour's relative funding estimate the emulator serves (a blend of the running rate
/// and the last settled one, within the cap).
pub fn predicted_relative(current: f64, previous: f64) -> f64 {
    (current * 0.6 + previous * 0.4).clamp(-MAX_RELATIVE_FUNDING_RATE, MAX_RELATIVE_FUNDING_RATE)
}

/// True for the inverse contracts (perpetual `PI_…` or dated `FI_…`).
pub fn is_inverse(inst: &Instrument) -> bool {
    inst.symbol.starts_with(INVERSE_PREFIX) || inst.symbol.starts_with(DATED_INVERSE_PREFIX)
}

/// The universe of a Kraken Futures instance: `PF_` linear perpetuals on the coins (`PF_XBTUSD`
/// first), a few `PI_` inverse perpetuals on the biggest coins, up to 4 dated futures alternating
/// `FI_` (inverse) and `FF_` (linear), a few synthetic perpetuals not tradeable yet and a few
/// suspended. Every perpetual funds hourly with Kraken's ±0.25 % cap.
pub fn compose(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let dated = dated_count(n);
    let inverse = if n >= 20 { (n / 40).clamp(1, 6) } else { 0 };
    let linear = n - dated - inverse;
    let mut out = Vec::with_capacity(n);
    for (prefix, list, contract) in [
        (LINEAR_PREFIX, coins(linear), Contract::Perpetual),
        (INVERSE_PREFIX, coins(inverse), Contract::InversePerpetual),
    ] {
        for coin in list {
            let code = out.len() as u64;
            let symbol = format!("{prefix}{}USD", kraken_code(&coin.name));
            let mut inst = make(Spec {
                cfg,
                symbol,
                base: coin.name.clone(),
                quote: "USD",
                contract,
                mult: 1.0,
                code,
                coin,
            });
            inst.funding_hours = FUNDING_HOURS;
            inst.funding_cap = MAX_RELATIVE_FUNDING_RATE;
            inst.funding_floor = -MAX_RELATIVE_FUNDING_RATE;
            out.push(inst);
        }
    }
    let (cur, next) = quarterly_expiries(now_ms);
    for i in 0..dated {
        let Some(coin) = real_coin(i / 2) else { break };
        let expiry_ms = if i % 2 == 0 { cur } else { next };
        let (y, m, d) = civil_from_days((expiry_ms / crate::market::DAY_MS) as i64);
        let prefix = if i % 2 == 0 {
            DATED_INVERSE_PREFIX
        } else {
            DATED_LINEAR_PREFIX
        };
        let code = out.len() as u64;
        out.push(make(Spec {
            cfg,
            symbol: format!(
                "{prefix}{}USD_{:02}{m:02}{d:02}",
                kraken_code(&coin.name),
                y % 100
            ),
            base: coin.name.clone(),
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
    apply_statuses(
        &mut out,
        now_ms,
        STATUS_EVERY,
        PRE_LAUNCH_AT,
        Some(SUSPENDED_AT),
    );
    out
}

/// Answers `path`, or `None` when Kraken Futures has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, _query: &Query, now_ms: u64) -> Option<ApiResponse> {
    let list = &venue.universe.instruments;
    let body = match path {
        PATH_INSTRUMENTS => envelope(now_ms, "instruments", list.len() * 900, |a| {
            for inst in list {
                a.obj(|o| instrument_row(o, inst));
            }
            for inst in indexed(list) {
                for (prefix, kind) in [("in_", "spot index"), ("rr_", "settlement index")] {
                    a.obj(|o| {
                        o.str("symbol", &index_symbol(prefix, inst))
                            .str("type", kind)
                            .bool("tradeable", false);
                    });
                }
            }
        }),
        PATH_TICKERS => envelope(now_ms, "tickers", list.len() * 700, |a| {
            for inst in list.iter().filter(|i| i.status != Status::PreLaunch) {
                a.obj(|o| ticker_row(o, inst, now_ms));
            }
            for inst in indexed(list) {
                let s = inst.snapshot(now_ms);
                for prefix in ["in_", "rr_"] {
                    a.obj(|o| {
                        o.str("symbol", &index_symbol(prefix, inst));
                        number(o, "last", s.index, inst.price_dp);
                        o.str("lastTime", &iso8601(s.ts_ms, 3));
                    });
                }
            }
        }),
        _ => return None,
    };
    Some(ApiResponse::json(200, body))
}

/// `{"result":"success","serverTime":…,"<key>":[…]}`.
fn envelope(
    now_ms: u64,
    key: &str,
    capacity: usize,
    rows: impl FnOnce(&mut json::Arr<'_>),
) -> String {
    let mut b = String::with_capacity(capacity + 128);
    json::object(&mut b, |o| {
        o.str("result", "success")
            .str("serverTime", &iso8601(now_ms, 3))
            .arr(key, rows);
    });
    b
}

/// The linear perpetuals of the first coins, whose indices are listed.
fn indexed(list: &[Instrument]) -> impl Iterator<Item = &Instrument> {
    list.iter()
        .filter(|i| i.symbol.starts_with(LINEAR_PREFIX) && i.rank < INDEXED_COINS)
}

/// `in_xbtusd`, `rr_ethusd`.
fn index_symbol(prefix: &str, inst: &Instrument) -> String {
    format!(
        "{prefix}{}usd",
        kraken_code(&inst.coin).to_ascii_lowercase()
    )
}

/// Kraken's error body for `msg` (its error word).
pub fn error_body(b: &mut String, msg: &str, now_ms: u64) {
    json::object(b, |o| {
        o.str("result", "error")
            .str("serverTime", &iso8601(now_ms, 3))
            .str("error", msg);
    });
}

/// Kraken's errors carry a word, not a number: a fault's code is an HTTP status, answered with
/// that status (a code outside 400..=599 is answered with HTTP 200, as Kraken does for most
/// `result: error` bodies).
pub fn status_of(code: i64) -> u16 {
    u16::try_from(code)
        .ok()
        .filter(|s| (400..=599).contains(s))
        .unwrap_or(200)
}

/// The error word Kraken sends with a status (ccxt krakenfutures `exceptions`).
pub fn default_error_msg(code: i64) -> &'static str {
    match code {
        429 => "apiLimitExceeded",
        503 => "Unavailable",
        c if c >= 500 => "Server Error",
        404 => "notFound",
        _ => "invalidArgument",
    }
}

/// `"key":123.45` (a JSON number, trailing zeros trimmed).
fn number(o: &mut json::Obj<'_>, key: &str, value: f64, places: u32) {
    o.raw(key, &json::fixed(value, places, true));
}

/// `"key":-3.995839963e-9`: the full precision of a tiny value, as Kraken writes funding.
fn exact(o: &mut json::Obj<'_>, key: &str, value: f64) {
    let value = if value.is_finite() { value } else { 0.0 };
    o.raw(key, &format!("{value:e}"));
}

/// `XBT:USD` on linear rows, `BTC:USD` on inverse ones (the recorded answers show both).
fn pair(inst: &Instrument) -> String {
    if is_inverse(inst) {
        format!("{}:USD", inst.coin)
    } else {
        format!("{}:USD", kraken_code(&inst.coin))
    }
}

fn instrument_row(o: &mut json::Obj<'_>, inst: &Instrument) {
    let inverse = is_inverse(inst);
    o.str("symbol", &inst.symbol)
        .str("type", if inverse { INVERSE_TYPE } else { LINEAR_TYPE });
    if inverse {
        o.str(
            "underlying",
            &format!("rr_{}usd", kraken_code(&inst.coin).to_ascii_lowercase()),
        );
    }
    number(o, "tickSize", inst.tick(), inst.price_dp);
    o.int("contractSize", 1)
        .bool("tradeable", inst.status == Status::Trading);
    number(o, "impactMidSize", (1_000.0 / inst.level).max(1.0), 3);
    number(o, "maxPositionSize", 1_000_000.0, 1);
    o.str("openingDate", &iso8601(inst.listed_ms, 0));
    if let Contract::Quarterly { expiry_ms, .. } = inst.contract {
        o.str("lastTradingTime", &iso8601(expiry_ms, 3));
    }
    o.arr("marginLevels", |a| {
        for (step, initial, maintenance) in [(0.0, 0.02, 0.01), (500_000.0, 0.04, 0.02)] {
            a.obj(|m| {
                number(
                    m,
                    if inverse {
                        "contracts"
                    } else {
                        "numNonContractUnits"
                    },
                    step,
                    1,
                );
                number(m, "initialMargin", initial, 2);
                number(m, "maintenanceMargin", maintenance, 2);
            });
        }
    });
    if inst.is_perpetual() {
        o.int("fundingRateCoefficient", 24);
        number(o, "maxRelativeFundingRate", inst.funding_cap, 4);
    }
    o.str("isin", &format!("GB00{:08X}", inst.h & 0xffff_ffff))
        .int(
            "contractValueTradePrecision",
            if inverse { 0 } else { i64::from(inst.qty_dp) },
        )
        .bool("postOnly", false)
        .str(
            "feeScheduleUid",
            if inverse {
                "a6cbc326-9477-4a6c-911a-d4cb3ed7481e"
            } else {
                "723888f7-0a8e-4183-8648-f920a22339e3"
            },
        )
        .bool("mtf", true)
        .str("base", &inst.coin)
        .str("quote", "USD")
        .str("pair", &format!("{}:USD", inst.coin));
}

fn ticker_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let inverse = is_inverse(inst);
    let tag = match inst.contract {
        Contract::Quarterly { next: false, .. } => "month",
        Contract::Quarterly { next: true, .. } => "quarter",
        _ => "perpetual",
    };
    let suspended = inst.status == Status::Settling;
    // `lastTime` with microseconds, as Kraken writes it.
    let last_ms = s
        .ts_ms
        .saturating_sub(h2(inst.h ^ 0x1a57, s.ts_ms / 1000) % 90_000);
    let micros = h2(inst.h ^ 0x0c, last_ms) % 1_000;
    let last_time = iso8601(last_ms, 3);
    let last_time = format!(
        "{}{micros:03}Z",
        last_time.strip_suffix('Z').unwrap_or(&last_time)
    );
    o.str("symbol", &inst.symbol);
    number(o, "last", s.last, pd);
    o.str("lastTime", &last_time)
        .str("tag", tag)
        .str("pair", &pair(inst));
    number(o, "markPrice", s.mark, pd + 2);
    if !suspended {
        number(o, "bid", s.bid, pd);
        number(o, "bidSize", s.bid_qty, inst.qty_dp);
        number(o, "ask", s.ask, pd);
        number(o, "askSize", s.ask_qty, inst.qty_dp);
    }
    // Contracts: coins on linear contracts, USD on inverse ones.
    let (volume, volume_quote, open_interest) = if inverse {
        let usd = s.vol_quote.round();
        (usd, usd, (s.oi_base * s.mark).round().max(1.0))
    } else {
        (s.vol_base, s.vol_quote, s.oi_base)
    };
    number(o, "vol24h", volume, if inverse { 0 } else { inst.qty_dp });
    number(o, "volumeQuote", volume_quote, 4);
    number(o, "openInterest", open_interest, inst.qty_dp);
    number(o, "open24h", s.open_24h, pd);
    number(o, "high24h", s.high_24h, pd);
    number(o, "low24h", s.low_24h, pd);
    number(o, "lastSize", s.last_qty, inst.qty_dp);
    if inst.is_perpetual() {
        let predicted = predicted_relative(s.funding_rate, s.prev_funding_rate);
        exact(
            o,
            "fundingRate",
            absolute_funding(s.funding_rate, s.mark, inverse),
        );
        exact(
            o,
            "fundingRatePrediction",
            absolute_funding(predicted, s.mark, inverse),
        );
    }
    o.bool("suspended", suspended);
    number(o, "indexPrice", s.index, pd + 2);
    o.bool("postOnly", false);
    number(o, "change24h", (s.last / s.open_24h - 1.0) * 100.0, 2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::ExchangeKind, exchanges::respond as route};

    fn venue(universe: usize) -> Venue {
        Venue::new(InstanceConfig {
            universe,
            ..InstanceConfig::new("krakenfutures", ExchangeKind::KrakenFutures)
        })
    }

    fn body(v: &Venue, path: &str, now: u64) -> serde_json::Value {
        let r = route(v, "GET", path, &Query::default(), now);
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    fn rows<'v>(v: &'v serde_json::Value, key: &str) -> &'v Vec<serde_json::Value> {
        v[key].as_array().unwrap()
    }

    #[test]
    fn universe_mixes_linear_inverse_dated_and_statuses() {
        let v = venue(280);
        let list = &v.universe.instruments;
        assert_eq!(list.len(), 280);
        for s in [
            "PF_XBTUSD",
            "PF_ETHUSD",
            "PF_PEPEUSD",
            "PI_XBTUSD",
            "PI_ETHUSD",
        ] {
            assert!(v.universe.get(s).is_some(), "{s}");
        }
        let inverse = list
            .iter()
            .filter(|i| i.symbol.starts_with(INVERSE_PREFIX))
            .count();
        assert_eq!(inverse, 6);
        let dated: Vec<&str> = list
            .iter()
            .filter(|i| !i.is_perpetual())
            .map(|i| i.symbol.as_str())
            .collect();
        assert_eq!(dated.len(), 4, "{dated:?}");
        assert!(dated.iter().any(|s| s.starts_with("FI_XBTUSD_")));
        assert!(dated.iter().any(|s| s.starts_with("FF_XBTUSD_")));
        assert!(list.iter().any(|i| i.status == Status::PreLaunch));
        assert!(list.iter().any(|i| i.status == Status::Settling));
        assert!(list
            .iter()
            .filter(|i| i.is_perpetual())
            .all(|i| i.funding_hours == 1 && i.funding_cap == MAX_RELATIVE_FUNDING_RATE));
    }

    #[test]
    fn instruments_speak_krakens_types_and_dates() {
        let v = venue(280);
        let now = 1_790_000_123_456;
        let b = body(&v, PATH_INSTRUMENTS, now);
        assert_eq!(b["result"], "success");
        assert_eq!(b["serverTime"], iso8601(now, 3));
        let list = rows(&b, "instruments");
        assert_eq!(list.len(), 280 + 4);
        let get = |s: &str| list.iter().find(|r| r["symbol"] == s).unwrap();
        let pf = get("PF_XBTUSD");
        assert_eq!(
            (pf["type"].as_str(), pf["base"].as_str()),
            (Some(LINEAR_TYPE), Some("BTC"))
        );
        assert_eq!(pf["maxRelativeFundingRate"].as_f64(), Some(0.0025));
        assert!(pf["lastTradingTime"].is_null());
        assert!(pf["openingDate"].as_str().unwrap().ends_with(":00Z"));
        let pi = get("PI_XBTUSD");
        assert_eq!(pi["type"], INVERSE_TYPE);
        assert_eq!(pi["contractSize"], 1);
        let ff = list
            .iter()
            .find(|r| r["symbol"].as_str().unwrap().starts_with("FF_"))
            .unwrap();
        // The trap: the same type as the perpetuals, only lastTradingTime says dated.
        assert_eq!(ff["type"], LINEAR_TYPE);
        assert!(ff["lastTradingTime"].is_string() && ff["maxRelativeFundingRate"].is_null());
        assert_eq!(get("in_xbtusd")["type"], "spot index");
        assert_eq!(get("rr_ethusd")["tradeable"], false);
        assert!(list
            .iter()
            .any(|r| r["tradeable"] == false
                && r["symbol"].as_str().unwrap().starts_with(LINEAR_PREFIX)));
    }

    #[test]
    fn tickers_serve_absolute_hourly_funding_in_contracts() {
        let v = venue(280);
        let now = 1_790_000_123_456;
        let b = body(&v, PATH_TICKERS, now);
        let list = rows(&b, "tickers");
        let get = |s: &str| list.iter().find(|r| r["symbol"] == s).unwrap();
        for (symbol, inverse) in [("PF_XBTUSD", false), ("PI_XBTUSD", true)] {
            let row = get(symbol);
            let inst = v.universe.get(symbol).unwrap();
            let s = inst.snapshot(now);
            let mark = row["markPrice"].as_f64().unwrap();
            let absolute = row["fundingRate"].as_f64().unwrap();
            let relative = if inverse {
                absolute * mark
            } else {
                absolute / mark
            };
            assert!(
                (relative - s.funding_rate).abs() <= 1e-6 * s.funding_rate.abs().max(1e-9),
                "{symbol}: {relative} vs {}",
                s.funding_rate
            );
            assert_eq!(row["tag"], "perpetual");
            assert!(row["relativeFundingRate"].is_null());
        }
        // Inverse contracts are USD: open interest ≈ base × mark.
        let pi = get("PI_XBTUSD");
        let s = v.universe.get("PI_XBTUSD").unwrap().snapshot(now);
        assert!((pi["openInterest"].as_f64().unwrap() / (s.oi_base * s.mark) - 1.0).abs() < 1e-6);
        assert!(pi["lastTime"].as_str().unwrap().len() == "2025-11-17T00:31:01.835715Z".len());
        // Dated rows carry no funding; not-yet-tradeable perpetuals are not quoted; suspended
        // ones have no book.
        let dated = list
            .iter()
            .find(|r| r["symbol"].as_str().unwrap().starts_with("FI_"))
            .unwrap();
        assert!(dated["tag"] != "perpetual" && dated["fundingRate"].is_null());
        let pending = v
            .universe
            .instruments
            .iter()
            .find(|i| i.status == Status::PreLaunch)
            .unwrap();
        assert!(list.iter().all(|r| r["symbol"] != pending.symbol.as_str()));
        assert!(list
            .iter()
            .any(|r| r["suspended"] == true && r["bid"].is_null() && r["markPrice"].is_number()));
        assert!(get("in_xbtusd")["last"].is_number());
    }

    #[test]
    fn errors_are_kraken_shaped() {
        let mut b = String::new();
        error_body(&mut b, "apiLimitExceeded", 1_790_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(
            (v["result"].as_str(), v["error"].as_str()),
            (Some("error"), Some("apiLimitExceeded"))
        );
        assert_eq!(status_of(429), 429);
        assert_eq!(status_of(1), 200);
        assert_eq!(default_error_msg(429), "apiLimitExceeded");
        let r = route(
            &venue(50),
            "GET",
            "/derivatives/api/v3/nothing",
            &Query::default(),
            1,
        );
        assert_eq!(r.status, 404);
    }
}
