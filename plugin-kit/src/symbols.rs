//! Unified symbols: an exchange's currency codes turned into the ccxt unified symbol
//! `BASE/QUOTE:SETTLE` (exchange-notes §1.1 and errata 6 and 13), and the multiplier a code's
//! prefix implies (`1000PEPE`, `kPEPE`).
//!
//! Owns: the code rules (upper-case, then the exchange's rename table, then the renames ccxt
//! applies for every exchange), the multiplier prefixes, and making an instrument record whose
//! identity follows them ([`instrument_record`], which also puts the multiplier in
//! `extra.multiplier`). Each exchange supplies its own rename table (ccxt's `commonCurrencies`
//! for it: copy each exchange's own, never a global one; errata 13).
//! Must not: strip a multiplier prefix from the symbol (ccxt keeps it: `1000PEPE/USDT:USDT`),
//! rename anything its table does not list, or panic on any input.

use std::borrow::Cow;

use plugin_api::{Context, MarketType, Record, RecordKind};

/// A currency rename table: `(exchange code, unified code)`, matched after upper-casing.
pub type Renames = [(&'static str, &'static str)];

/// The renames ccxt applies on every exchange unless the exchange's own table overrides them
/// (exchange-notes §1.1: ccxt base `commonCurrencies`).
pub const COMMON_RENAMES: &Renames = &[("XBT", "BTC"), ("BCHSV", "BSV")];

/// The `extra` key carrying a code's multiplier (`1000` for `1000PEPE`), on instrument records.
pub const EXTRA_MULTIPLIER: &str = "multiplier";

/// The multiplier a lower-case `k` prefix stands for (Hyperliquid `kPEPE`).
const KILO: u64 = 1_000;
/// The multiplier an `1M` prefix stands for (Binance `1MBABYDOGE`).
const MEGA: u64 = 1_000_000;
/// Smallest power-of-ten prefix read as a multiplier (`100BONK`); `10` and `1` are too often part
/// of a coin's own name (`1INCH`).
const MIN_DECIMAL_MULTIPLIER: u64 = 100;

/// The unified code of an exchange's currency `raw`: upper-cased, then renamed by `exchange`'s
/// table, else by [`COMMON_RENAMES`] (an exchange's entry overrides a common one).
pub fn unified_code<'a>(raw: &'a str, exchange: &Renames) -> Cow<'a, str> {
    let upper: Cow<'a, str> = if raw.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(raw.to_ascii_uppercase())
    } else {
        Cow::Borrowed(raw)
    };
    let renamed = exchange
        .iter()
        .chain(COMMON_RENAMES.iter())
        .find(|(from, _)| *from == upper.as_ref());
    match renamed {
        Some((_, to)) => Cow::Borrowed(to),
        None => upper,
    }
}

/// The ccxt unified symbol of a swap.
pub fn unified_symbol(base: &str, quote: &str, settle: &str) -> String {
    format!("{base}/{quote}:{settle}")
}

/// The multiplier a raw base code's prefix implies: `1000PEPE` → 1000, `1000000MOG` → 10^6,
/// `1MBABYDOGE` → 10^6, `kPEPE` → 1000; `None` for a plain code (`BTC`, `1INCH`).
pub fn multiplier(raw_base: &str) -> Option<u64> {
    let bytes = raw_base.as_bytes();
    let starts_name = |rest: &[u8]| rest.first().is_some_and(|b| b.is_ascii_uppercase());
    if let Some(rest) = raw_base.strip_prefix('k') {
        return starts_name(rest.as_bytes()).then_some(KILO);
    }
    if let Some(rest) = raw_base.strip_prefix("1M") {
        if starts_name(rest.as_bytes()) {
            return Some(MEGA);
        }
    }
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let (prefix, rest) = raw_base.split_at(digits);
    let power_of_ten = prefix.strip_prefix('1')?.bytes().all(|b| b == b'0');
    let value: u64 = prefix.parse().ok()?;
    (power_of_ten && value >= MIN_DECIMAL_MULTIPLIER && starts_name(rest.as_bytes()))
        .then_some(value)
}

/// An instrument record whose identity follows the unified rules: `raw_base`/`raw_quote`/
/// `raw_settle` are the exchange's codes, renamed through `renames`; a multiplier prefix stays in
/// the symbol and is also put in `extra.multiplier`.
#[allow(clippy::too_many_arguments)]
pub fn instrument_record(
    ctx: &Context<'_>,
    raw_symbol: &str,
    raw_base: &str,
    raw_quote: &str,
    raw_settle: &str,
    market_type: MarketType,
    received_ts: i64,
    renames: &Renames,
) -> Record {
    let mut record = Record::in_context(
        RecordKind::INSTRUMENT,
        ctx,
        raw_symbol,
        &unified_code(raw_base, renames),
        &unified_code(raw_quote, renames),
        &unified_code(raw_settle, renames),
        market_type,
        received_ts,
    );
    if let Some(m) = multiplier(raw_base) {
        record.push_extra(EXTRA_MULTIPLIER, m.to_string());
    }
    record
}

/// Why `record`'s identity breaks the unified rules, if it does: the symbol is not
/// `base/quote:settle`, a code is empty, padded or holds a separator, a code is still one its
/// exchange's table renames, linear contracts do not settle in the quote or inverse ones in the
/// base, or an instrument with a multiplier prefix lacks (or misstates) `extra.multiplier`.
pub fn check_identity(record: &Record, renames: &Renames) -> Result<(), String> {
    let (base, quote, settle) = (
        record.base.as_str(),
        record.quote.as_str(),
        record.settle.as_str(),
    );
    let symbol = record.symbol.as_str();
    if symbol != unified_symbol(base, quote, settle) {
        return Err(format!("{symbol} is not {base}/{quote}:{settle}"));
    }
    for code in [base, quote, settle] {
        if code.is_empty() || code.trim() != code || code.contains(['/', ':']) {
            return Err(format!(
                "{symbol}: code {code:?} is empty, padded or has a separator"
            ));
        }
        if unified_code(code, renames) != code && code.bytes().all(|b| !b.is_ascii_lowercase()) {
            return Err(format!("{symbol}: code {code} should have been renamed"));
        }
    }
    match record.market_type {
        MarketType::LINEAR_PERPETUAL if settle != quote => {
            return Err(format!(
                "{symbol}: linear but settles in {settle}, not {quote}"
            ))
        }
        MarketType::INVERSE_PERPETUAL if settle != base => {
            return Err(format!(
                "{symbol}: inverse but settles in {settle}, not {base}"
            ))
        }
        _ => {}
    }
    if record.kind == RecordKind::INSTRUMENT {
        let stated = record
            .extra
            .iter()
            .find(|kv| kv.key.as_str() == EXTRA_MULTIPLIER)
            .map(|kv| kv.value.as_str().to_owned());
        let expected = multiplier(base).map(|m| m.to_string());
        // `base` is upper-cased, so a `k` prefix is only visible in the raw symbol's form.
        if expected.is_some() && stated != expected {
            return Err(format!(
                "{symbol}: extra.multiplier is {stated:?}, the prefix says {expected:?}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_upper_cased_and_renamed_by_the_exchange_table_first() {
        const TABLE: &Renames = &[("BCC", "BCC"), ("YOYO", "YOYOW"), ("XBT", "XBT")];
        assert_eq!(unified_code("XBT", &[]), "BTC");
        assert_eq!(unified_code("xbt", &[]), "BTC");
        assert_eq!(unified_code("BCHSV", &[]), "BSV");
        assert_eq!(
            unified_code("XBT", TABLE),
            "XBT",
            "an exchange entry overrides"
        );
        assert_eq!(unified_code("yoyo", TABLE), "YOYOW");
        assert_eq!(unified_code("kPEPE", &[]), "KPEPE");
        assert_eq!(unified_code("1000PEPE", &[]), "1000PEPE");
        assert!(matches!(unified_code("BTC", &[]), Cow::Borrowed(_)));
    }

    #[test]
    fn multiplier_prefixes() {
        for (raw, want) in [
            ("1000PEPE", Some(1_000)),
            ("1000000BABYDOGE", Some(1_000_000)),
            ("100BONK", Some(100)),
            ("1MBABYDOGE", Some(1_000_000)),
            ("kPEPE", Some(1_000)),
            ("BTC", None),
            ("1INCH", None),
            ("10SET", None),
            ("1000", None),
            ("2000X", None),
            ("1001X", None),
            ("KAVA", None),
            ("k", None),
            ("", None),
            ("99999999999999999999999X", None),
        ] {
            assert_eq!(multiplier(raw), want, "{raw}");
        }
    }

    fn ctx() -> Context<'static> {
        Context {
            exchange_id: "x".into(),
            now_ms: 0,
            instruments: Default::default(),
            options: Default::default(),
            credentials: plugin_api::abi_stable::std_types::ROption::RNone,
        }
    }

    #[test]
    fn instrument_records_follow_the_rules_and_checks_catch_breaks() {
        let linear = MarketType::LINEAR_PERPETUAL;
        let r = instrument_record(
            &ctx(),
            "1000PEPEUSDT",
            "1000PEPE",
            "USDT",
            "USDT",
            linear,
            1,
            &[],
        );
        assert_eq!(r.symbol.as_str(), "1000PEPE/USDT:USDT");
        assert_eq!(r.extra[0].value.as_str(), "1000");
        assert_eq!(check_identity(&r, &[]), Ok(()));
        let inverse = MarketType::INVERSE_PERPETUAL;
        let r = instrument_record(&ctx(), "XBTUSD", "XBT", "USD", "XBT", inverse, 1, &[]);
        assert_eq!(r.symbol.as_str(), "BTC/USD:BTC");
        assert!(r.extra.is_empty());
        assert_eq!(check_identity(&r, &[]), Ok(()));

        let raw = |base: &str, quote: &str, settle: &str, mt| {
            Record::in_context(
                RecordKind::INSTRUMENT,
                &ctx(),
                "raw",
                base,
                quote,
                settle,
                mt,
                1,
            )
        };
        assert!(check_identity(&raw("XBT", "USD", "XBT", inverse), &[]).is_err());
        assert!(check_identity(&raw("BTC", "USDT", "USDC", linear), &[]).is_err());
        assert!(check_identity(&raw("BTC", "USD", "USD", inverse), &[]).is_err());
        assert!(check_identity(&raw("1000PEPE", "USDT", "USDT", linear), &[]).is_err());
        assert!(check_identity(&raw("", "USDT", "USDT", linear), &[]).is_err());
        let mut wrong = raw("BTC", "USDT", "USDT", linear);
        wrong.symbol = "BTC-USDT".into();
        assert!(check_identity(&wrong, &[]).is_err());
    }
}
