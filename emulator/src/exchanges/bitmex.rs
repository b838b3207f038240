//! BitMEX public REST: `GET /api/v1/instrument/active` (every active instrument with its ticker
//! and funding fields, a top-level JSON array) and the error body
//! `{"error":{"message":"…","name":"HTTPError"}}` — and the universe such an instance lists
//! ([`compose`]).
//!
//! Wire conventions copied from BitMEX (exchange-notes §12): numbers are JSON numbers, times
//! ISO-8601 strings; bitcoin is `XBT`; settle currencies are written in MINOR units (`XBt` =
//! satoshi, `USDt` = micro-USDT) and the money fields `openValue`/`turnover24h` are in them;
//! `fundingInterval` is a timespan written as a date after 2000-01-01 (`2000-01-01T08:00:00.000Z`
//! = 8 h); `fundingRate` is the current period's rate, `indicativeFundingRate` the next one's;
//! perpetuals are `typ: FFWCSX`, dated futures `FFCCSX` (with `expiry`, null funding fields),
//! spot pairs `IFXXXP`. Inverse `XBTUSD` has `multiplier: -100000000` (1 USD contracts);
//! quanto `ETHUSD`-style contracts are quoted in USD and settled in XBt; linear `…USDT`
//! contracts are sized by `underlyingToPositionMultiplier`.
//!
//! Owns: this exchange's universe composition (one inverse, a few quanto, USDT-linear with ×1000
//! contracts for tiny coins, dated inverse futures, two spot pairs, a few `Closed`) and the wire
//! format of its endpoint.
//! Must not: invent values (they come from `market`'s snapshots) or apply faults.

use super::{ApiResponse, Query, Venue};
use crate::{
    config::InstanceConfig,
    json,
    market::{
        apply_statuses, civil_from_days, coins, dated_count, iso8601, make, quarterly_expiries,
        real_coin, thousand_multiplied, Contract, Instrument, Spec, Status,
    },
};

/// Class codes: perpetual, dated future, spot.
pub const PERPETUAL_TYP: &str = "FFWCSX";
pub const DATED_TYP: &str = "FFCCSX";
pub const SPOT_TYP: &str = "IFXXXP";
/// Satoshi per bitcoin (`XBt`) and micro-USDT per USDT (`USDt`).
pub const SATOSHI: f64 = 1e8;
pub const MICRO_USDT: f64 = 1e6;

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;
/// BitMEX's futures month codes (`XBTZ26` = December 2026).
const MONTH_CODES: [char; 12] = ['F', 'G', 'H', 'J', 'K', 'M', 'N', 'Q', 'U', 'V', 'X', 'Z'];
/// Every this many synthetic perpetuals, one is `Closed` (listed, not trading).
const CLOSED_EVERY: usize = 80;
const CLOSED_AT: usize = 40;
/// Spot pairs listed among the instruments (`XBT_USDT`).
const SPOT_PAIRS: usize = 2;
/// Satoshi per contract per USD of price on a quanto contract.
const QUANTO_MULTIPLIER: f64 = 100.0;
/// `fundingInterval` and other timespans are dates after this instant.
const TIMESPAN_EPOCH_MS: u64 = 946_684_800_000;

/// BitMEX's code of a coin (`BTC` is `XBT`).
pub fn bitmex_code(coin: &str) -> &str {
    if coin == "BTC" {
        "XBT"
    } else {
        coin
    }
}

/// The kind of a listed row, from its symbol and contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Linear,
    Inverse,
    Quanto,
    Dated,
    Spot,
}

/// How `inst` is served: spot pairs have `_` in their name; USD-quoted perpetuals other than
/// the inverse ones are quanto.
pub fn class(inst: &Instrument) -> Class {
    match inst.contract {
        Contract::Quarterly { .. } => Class::Dated,
        Contract::InversePerpetual => Class::Inverse,
        Contract::Perpetual if inst.symbol.contains('_') => Class::Spot,
        Contract::Perpetual if inst.quote == "USD" => Class::Quanto,
        Contract::Perpetual => Class::Linear,
    }
}

/// The universe of a BitMEX instance: inverse `XBTUSD`, a few quanto `<COIN>USD` settled in
/// XBt, USDT-linear perpetuals (`XBTUSDT`, ×1000 `1000PEPEUSDT`), up to 4 dated inverse futures
/// (`XBTZ26`), two spot pairs and a few `Closed` synthetic perpetuals.
pub fn compose(cfg: &InstanceConfig, now_ms: u64) -> Vec<Instrument> {
    let n = cfg.universe;
    let dated = dated_count(n);
    let spot = if n >= 20 { SPOT_PAIRS } else { 0 };
    let inverse = usize::from(n >= 2);
    let quanto = if n >= 30 { (n / 30).clamp(1, 8) } else { 0 };
    let linear = n - dated - spot - inverse - quanto;
    let mut out = Vec::with_capacity(n);
    let push =
        |out: &mut Vec<Instrument>, symbol: String, base: String, quote, contract, mult, coin| {
            let code = out.len() as u64;
            out.push(make(Spec {
                cfg,
                symbol,
                base,
                quote,
                contract,
                mult,
                code,
                coin,
            }));
        };
    for coin in coins(linear) {
        let (base, mult) = if thousand_multiplied(&coin.name) {
            (format!("1000{}", coin.name), 1000.0)
        } else {
            (bitmex_code(&coin.name).to_owned(), 1.0)
        };
        push(
            &mut out,
            format!("{base}USDT"),
            base,
            "USDT",
            Contract::Perpetual,
            mult,
            coin,
        );
    }
    for coin in coins(inverse) {
        let base = bitmex_code(&coin.name).to_owned();
        push(
            &mut out,
            format!("{base}USD"),
            base,
            "USD",
            Contract::InversePerpetual,
            1.0,
            coin,
        );
    }
    // Quanto contracts on the coins after bitcoin (ETHUSD, SOLUSD, ...).
    for rank in 1..=quanto {
        let Some(coin) = real_coin(rank) else { break };
        let base = bitmex_code(&coin.name).to_owned();
        push(
            &mut out,
            format!("{base}USD"),
            base,
            "USD",
            Contract::Perpetual,
            1.0,
            coin,
        );
    }
    for rank in 0..spot {
        let Some(coin) = real_coin(rank) else { break };
        let base = bitmex_code(&coin.name).to_owned();
        push(
            &mut out,
            format!("{base}_USDT"),
            base,
            "USDT",
            Contract::Perpetual,
            1.0,
            coin,
        );
    }
    let (cur, next) = quarterly_expiries(now_ms);
    for i in 0..dated {
        let Some(coin) = real_coin(i / 2) else { break };
        let expiry_ms = if i % 2 == 0 { cur } else { next };
        let (y, m, _) = civil_from_days((expiry_ms / DAY_MS) as i64);
        let month = MONTH_CODES.get((m - 1) as usize).copied().unwrap_or('Z');
        let base = bitmex_code(&coin.name).to_owned();
        let contract = Contract::Quarterly {
            expiry_ms,
            next: i % 2 == 1,
        };
        push(
            &mut out,
            format!("{base}{month}{:02}", y % 100),
            base,
            "USD",
            contract,
            1.0,
            coin,
        );
    }
    apply_statuses(
        &mut out,
        now_ms,
        CLOSED_EVERY,
        CLOSED_EVERY,
        Some(CLOSED_AT),
    );
    out
}

/// Answers `path`, or `None` when BitMEX has no such endpoint here.
pub fn respond(venue: &Venue, path: &str, _query: &Query, now_ms: u64) -> Option<ApiResponse> {
    match path {
        "/api/v1/instrument/active" => {
            let list = &venue.universe.instruments;
            let mut b = String::with_capacity(64 + list.len() * 2_000);
            json::array(&mut b, |a| {
                for inst in list {
                    a.obj(|o| instrument_row(o, inst, now_ms));
                }
            });
            Some(ApiResponse::json(200, b))
        }
        _ => None,
    }
}

/// BitMEX's error body.
pub fn error_body(b: &mut String, msg: &str) {
    json::object(b, |o| {
        o.obj("error", |e| {
            e.str("message", msg).str("name", "HTTPError");
        });
    });
}

/// BitMEX errors carry no code: the fault's code is the HTTP status itself.
pub fn status_of(code: i64) -> u16 {
    u16::try_from(code)
        .ok()
        .filter(|s| (400..=599).contains(s))
        .unwrap_or(400)
}

/// The message BitMEX sends with a status.
pub fn default_error_msg(code: i64) -> &'static str {
    match code {
        429 => "Rate limit exceeded, retry in 1 seconds.",
        503 => "The system is currently overloaded. Please try again later.",
        c if c >= 500 => "Service unavailable",
        404 => "Not Found",
        _ => "Invalid filter",
    }
}

/// `ms` as BitMEX writes times: `2024-11-25T04:00:00.000Z`.
pub fn iso(ms: u64) -> String {
    iso8601(ms, 3)
}

/// `"key":123.45` (a JSON number, trailing zeros trimmed).
fn number(o: &mut json::Obj<'_>, key: &str, value: f64, places: u32) {
    o.raw(key, &json::fixed(value, places, true));
}

/// Contracts per base coin on a linear contract: a power of ten making one contract worth a
/// fraction of a USD cent to a few USD (XBTUSDT: 1e6, i.e. 1 contract = 1e-6 BTC).
pub fn position_multiplier(inst: &Instrument) -> f64 {
    if inst.rank == 0 {
        1e6
    } else {
        10f64.powf((inst.level * 1_000.0).log10().floor().clamp(0.0, 9.0))
    }
}

/// BitMEX's `state` word.
fn state_word(inst: &Instrument) -> &'static str {
    match inst.status {
        Status::Trading => "Open",
        Status::Settling => "Closed",
        Status::PreLaunch => "Unlisted",
    }
}

fn instrument_row(o: &mut json::Obj<'_>, inst: &Instrument, now_ms: u64) {
    let s = inst.snapshot(now_ms);
    let pd = inst.price_dp;
    let class = class(inst);
    let settle = match class {
        Class::Linear | Class::Spot => "USDt",
        _ => "XBt",
    };
    let typ = match class {
        Class::Dated => DATED_TYP,
        Class::Spot => SPOT_TYP,
        _ => PERPETUAL_TYP,
    };
    o.str("symbol", &inst.symbol)
        .str("rootSymbol", &inst.base)
        .str("state", state_word(inst))
        .str("typ", typ)
        .str("listing", &iso(inst.listed_ms))
        .str("front", &iso(inst.listed_ms));
    match inst.contract {
        Contract::Quarterly { expiry_ms, .. } => o
            .str("expiry", &iso(expiry_ms))
            .str("settle", &iso(expiry_ms)),
        _ => o.null("expiry").null("settle"),
    };
    o.str(
        "positionCurrency",
        if class == Class::Linear { "" } else { "USD" },
    )
    .str("underlying", &inst.base)
    .str("quoteCurrency", inst.quote)
    .str("underlyingSymbol", &format!("{}=", inst.base))
    .str("reference", "BMEX")
    .str("referenceSymbol", &format!(".B{}", inst.base))
    .int("maxOrderQty", 10_000_000);
    number(o, "maxPrice", 1_000_000.0, 0);
    o.int("lotSize", if class == Class::Inverse { 100 } else { 1 });
    number(o, "tickSize", inst.tick(), pd);
    // Contract sizing and the quantities in contracts.
    let position_mult = position_multiplier(inst);
    let (oi_contracts, volume_contracts) = match class {
        Class::Linear | Class::Spot => (
            (s.oi_base * position_mult).round(),
            (s.vol_base * position_mult).round(),
        ),
        Class::Quanto => ((s.oi_base * s.mark).round().max(1.0), (s.vol_quote).round()),
        _ => ((s.oi_base * s.mark).round().max(1.0), s.vol_quote.round()),
    };
    match class {
        Class::Linear | Class::Spot => {
            o.int("multiplier", 1);
            number(o, "underlyingToPositionMultiplier", position_mult, 0);
            o.null("underlyingToSettleMultiplier");
            number(o, "quoteToSettleMultiplier", MICRO_USDT, 0);
        }
        Class::Quanto => {
            number(o, "multiplier", QUANTO_MULTIPLIER, 0);
            o.null("underlyingToPositionMultiplier")
                .null("underlyingToSettleMultiplier")
                .null("quoteToSettleMultiplier");
        }
        Class::Inverse | Class::Dated => {
            number(o, "multiplier", -SATOSHI, 0);
            o.null("underlyingToPositionMultiplier");
            number(o, "underlyingToSettleMultiplier", -SATOSHI, 0);
            o.null("quoteToSettleMultiplier");
        }
    }
    o.str("settlCurrency", settle)
        .bool("isQuanto", class == Class::Quanto)
        .bool("isInverse", matches!(class, Class::Inverse | Class::Dated));
    number(o, "initMargin", 0.01, 2);
    number(o, "maintMargin", 0.005, 3);
    number(o, "makerFee", -0.0001, 4);
    number(o, "takerFee", 0.00075, 5);
    if inst.is_perpetual() && class != Class::Spot {
        let interval = u64::from(inst.funding_hours) * HOUR_MS;
        let indicative = (s.funding_rate * 0.7 + s.prev_funding_rate * 0.3)
            .clamp(inst.funding_floor, inst.funding_cap);
        o.str(
            "fundingBaseSymbol",
            &format!(".{}BON{}H", inst.base, inst.funding_hours),
        )
        .str(
            "fundingQuoteSymbol",
            &format!(".USDBON{}H", inst.funding_hours),
        )
        .str(
            "fundingPremiumSymbol",
            &format!(".{}PI{}H", inst.symbol, inst.funding_hours),
        )
        .str("fundingTimestamp", &iso(s.next_funding_ms))
        .str("fundingInterval", &iso(TIMESPAN_EPOCH_MS + interval));
        number(o, "fundingRate", s.funding_rate, 6);
        number(o, "indicativeFundingRate", indicative, 6);
    } else {
        o.null("fundingBaseSymbol")
            .null("fundingQuoteSymbol")
            .null("fundingPremiumSymbol")
            .null("fundingTimestamp")
            .null("fundingInterval")
            .null("fundingRate")
            .null("indicativeFundingRate");
    }
    // 24 h statistics: contracts, settle minor units, base and quote.
    let turnover_minor = match class {
        Class::Linear | Class::Spot => (s.vol_quote * MICRO_USDT).round(),
        _ => (s.vol_base * SATOSHI).round(),
    };
    number(o, "prevClosePrice", s.open_24h, pd);
    number(o, "volume24h", volume_contracts, 0);
    number(o, "turnover24h", turnover_minor, 0);
    number(o, "homeNotional24h", s.vol_base, 8);
    number(o, "foreignNotional24h", s.vol_quote, 4);
    number(o, "prevPrice24h", s.open_24h, pd);
    number(o, "vwap", (s.open_24h + s.last) / 2.0, pd + 2);
    number(o, "highPrice", s.high_24h, pd);
    number(o, "lowPrice", s.low_24h, pd);
    number(o, "lastPrice", s.last, pd);
    o.str(
        "lastTickDirection",
        if s.last >= s.prev_1h {
            "PlusTick"
        } else {
            "MinusTick"
        },
    );
    number(o, "lastChangePcnt", (s.last - s.open_24h) / s.open_24h, 4);
    if inst.is_trading() {
        number(o, "bidPrice", s.bid, pd);
        number(o, "midPrice", (s.bid + s.ask) / 2.0, pd + 1);
        number(o, "askPrice", s.ask, pd);
    } else {
        o.null("bidPrice").null("midPrice").null("askPrice");
    }
    // Open interest: contracts, and its value in settle minor units.
    let open_value = match class {
        Class::Linear | Class::Spot => (oi_contracts / position_mult * s.mark * MICRO_USDT).round(),
        Class::Quanto => (oi_contracts * QUANTO_MULTIPLIER * s.mark).round(),
        _ => (oi_contracts / s.mark * SATOSHI).round(),
    };
    if class == Class::Spot {
        o.null("openInterest").null("openValue");
    } else {
        number(o, "openInterest", oi_contracts, 0);
        number(o, "openValue", open_value, 0);
    }
    o.str(
        "fairMethod",
        if class == Class::Dated {
            "ImpactMidPrice"
        } else {
            "FundingRate"
        },
    );
    number(o, "fairPrice", s.mark, pd);
    o.str("markMethod", "FairPrice");
    number(o, "markPrice", s.mark, pd);
    number(o, "indicativeSettlePrice", s.est_settle, pd + 2);
    o.bool("hasLiquidity", inst.is_trading())
        .str("timestamp", &iso(s.ts_ms));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::ExchangeKind, exchanges::respond as route};

    fn venue(universe: usize) -> Venue {
        Venue::new(InstanceConfig {
            universe,
            ..InstanceConfig::new("bitmex", ExchangeKind::Bitmex)
        })
    }

    fn rows(v: &Venue, now: u64) -> Vec<serde_json::Value> {
        let r = route(
            v,
            "GET",
            "/api/v1/instrument/active",
            &Query::default(),
            now,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn universe_mixes_linear_inverse_quanto_dated_spot_and_closed() {
        let v = venue(220);
        let list = &v.universe.instruments;
        assert_eq!(list.len(), 220);
        for s in [
            "XBTUSDT",
            "ETHUSDT",
            "1000PEPEUSDT",
            "XBTUSD",
            "ETHUSD",
            "XBT_USDT",
        ] {
            assert!(v.universe.get(s).is_some(), "{s}");
        }
        let count = |c: Class| list.iter().filter(|i| class(i) == c).count();
        assert_eq!(count(Class::Inverse), 1);
        assert_eq!(count(Class::Quanto), 7);
        assert_eq!(count(Class::Dated), 4);
        assert_eq!(count(Class::Spot), 2);
        assert!(list.iter().any(|i| i.status == Status::Settling));
    }

    #[test]
    fn instrument_active_speaks_bitmex_units() {
        let v = venue(220);
        let now = 1_790_000_123_456;
        let rows = rows(&v, now);
        assert_eq!(rows.len(), 220);
        let get = |s: &str| rows.iter().find(|r| r["symbol"] == s).unwrap();
        let inv = get("XBTUSD");
        assert_eq!(
            (inv["typ"].as_str(), inv["settlCurrency"].as_str()),
            (Some("FFWCSX"), Some("XBt"))
        );
        assert_eq!(inv["multiplier"].as_f64(), Some(-1e8));
        assert_eq!(inv["isInverse"], true);
        assert_eq!(inv["fundingInterval"], "2000-01-01T08:00:00.000Z");
        let next = inv["fundingTimestamp"].as_str().unwrap();
        assert!(next.ends_with(":00:00.000Z"), "{next}");
        // openValue is satoshi: openInterest USD ÷ mark × 1e8.
        let (oi, ov, mark) = (
            inv["openInterest"].as_f64().unwrap(),
            inv["openValue"].as_f64().unwrap(),
            inv["markPrice"].as_f64().unwrap(),
        );
        assert!((ov / SATOSHI - oi / mark).abs() < 1e-6 * oi / mark);
        let lin = get("XBTUSDT");
        assert_eq!(lin["settlCurrency"], "USDt");
        assert_eq!(lin["underlyingToPositionMultiplier"].as_f64(), Some(1e6));
        let q = get("ETHUSD");
        assert_eq!(
            (q["isQuanto"].as_bool(), q["settlCurrency"].as_str()),
            (Some(true), Some("XBt"))
        );
        let dated = rows.iter().find(|r| r["typ"] == DATED_TYP).unwrap();
        assert!(dated["expiry"].is_string() && dated["fundingRate"].is_null());
        let spot = get("XBT_USDT");
        assert_eq!(spot["typ"], SPOT_TYP);
        assert!(rows
            .iter()
            .any(|r| r["state"] == "Closed" && r["bidPrice"].is_null()));
    }

    #[test]
    fn times_are_iso_and_errors_are_bitmex_shaped() {
        assert_eq!(iso(1_732_507_200_000), "2024-11-25T04:00:00.000Z");
        assert_eq!(
            iso(TIMESPAN_EPOCH_MS + 8 * HOUR_MS),
            "2000-01-01T08:00:00.000Z"
        );
        let mut b = String::new();
        error_body(&mut b, "x");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["error"]["message"], "x");
        assert_eq!(status_of(429), 429);
        assert_eq!(status_of(7), 400);
        let r = route(&venue(50), "GET", "/api/v1/nothing", &Query::default(), 1);
        assert_eq!(r.status, 404);
    }
}
