//! The latest known state of every instrument of one exchange, and the normalization the host
//! applies to every record (funding rate to 8h and annualized, default intervals).
//!
//! Owns the merge rule: a record from a cycle overlays the previous state field by field, so a
//! kind that refreshes only some fields (open interest) updates those and the emitted record
//! stays complete. Must not decide what is sent (change detection does) or touch the network.

use rustc_hash::FxHashMap as HashMap;

use crate::state::symbol_slots::SymbolSlots;

use plugin_api::{abi_stable::std_types::ROption, IdentityStr, IntervalSource, Record, RecordKind};

const HOURS_PER_YEAR: f64 = 24.0 * 365.0;

/// Latest record per (kind, raw symbol) for one exchange instance, per kind in the order the
/// plugin emits them ([`SymbolSlots`]: a cycle walks the records front to back).
#[derive(Debug, Default)]
pub struct RecordStore {
    latest: HashMap<RecordKind, SymbolSlots<Record>>,
}

/// Makes `dst` equal to `src` without reallocating what is already equal (the identity strings
/// of an instrument do not change between cycles, so the common update allocates nothing).
pub fn assign(dst: &mut Record, src: &Record) {
    // Exhaustive on purpose: a new field in `Record` fails to compile here until it is copied.
    let Record {
        kind,
        exchange,
        symbol,
        raw_symbol,
        base,
        quote,
        settle,
        market_type,
        exchange_ts,
        received_ts,
        last,
        bid,
        ask,
        mark,
        index,
        volume_24h_base,
        volume_24h_quote,
        open_interest_base,
        open_interest_quote,
        rate,
        interval_hours,
        interval_source,
        next_funding_ts,
        predicted_rate,
        rate_8h,
        rate_annualized,
        rate_cap,
        rate_floor,
        contract_size,
        tick_size,
        status,
        listing_ts,
        delisting_ts,
        extra,
    } = src;
    macro_rules! copy {
        ($($field:ident),* $(,)?) => { $(dst.$field = *$field;)* };
    }
    macro_rules! clone_if_changed {
        ($($field:ident),* $(,)?) => { $(if dst.$field != *$field { dst.$field = $field.clone(); })* };
    }
    copy!(
        kind,
        market_type,
        exchange_ts,
        received_ts,
        last,
        bid,
        ask,
        mark,
        index,
        volume_24h_base,
        volume_24h_quote,
        open_interest_base,
        open_interest_quote,
        rate,
        interval_hours,
        interval_source,
        next_funding_ts,
        predicted_rate,
        rate_8h,
        rate_annualized,
        rate_cap,
        rate_floor,
        contract_size,
        tick_size,
        listing_ts,
        delisting_ts,
    );
    clone_if_changed!(exchange, symbol, raw_symbol, base, quote, settle, status, extra);
}

/// Copies every field that is absent in `new` from `old`. Identity and `received_ts` stay new.
pub fn fill_missing(new: &mut Record, old: &Record) {
    macro_rules! fill {
        (
            identity: [$($identity:ident),*],
            received: [$($received:ident),*],
            carried: [$($carried:ident),* $(,)?],
            interval: [$interval_hours:ident, $interval_source:ident],
            derived: [$($derived:ident),*],
            extra: [$extra:ident] $(,)?
        ) => {
            $(if new.$carried.is_none() {
                new.$carried = old.$carried.clone();
            })*
            // An interval and its source travel together.
            if new.$interval_hours.is_none() {
                new.$interval_hours = old.$interval_hours;
                new.$interval_source = old.$interval_source;
            }
            if new.$extra.is_empty() {
                new.$extra = old.$extra.clone();
            }
        };
    }
    crate::record_fields::record_fields!(fill);
}

/// True when no two records share (kind, raw symbol). Plugins normally emit one record per
/// instrument, sorted: that case is settled by comparing neighbours, without hashing.
fn all_distinct(records: &[Record]) -> bool {
    fn key(r: &Record) -> (RecordKind, &str) {
        (r.kind, r.raw_symbol.as_str())
    }
    if records.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        return true;
    }
    // FxHash, as every map of this module, not SipHash: Bybit and OKX emit rows in their
    // response's order, so this path runs for every cycle of theirs.
    let mut seen =
        rustc_hash::FxHashSet::with_capacity_and_hasher(records.len(), Default::default());
    records.iter().all(|r| seen.insert(key(r)))
}

/// Merges records with the same (kind, raw symbol) within one cycle: later fields win, earlier
/// ones fill the gaps. Keeps first-seen order. Returns `records` itself when all are distinct.
pub fn merge_cycle(records: Vec<Record>) -> Vec<Record> {
    if all_distinct(&records) {
        return records;
    }
    let mut index: HashMap<(RecordKind, IdentityStr), usize> =
        HashMap::with_capacity_and_hasher(records.len(), Default::default());
    let mut merged: Vec<Record> = Vec::with_capacity(records.len());
    for record in records {
        let key = (record.kind, record.raw_symbol.clone());
        match index.get(&key) {
            Some(&i) => {
                let mut newer = record;
                fill_missing(&mut newer, &merged[i]);
                merged[i] = newer;
            }
            None => {
                index.insert(key, merged.len());
                merged.push(record);
            }
        }
    }
    merged
}

/// Fills funding defaults and derived rates. `default_interval_hours` comes from the plugin.
pub fn normalize(record: &mut Record, default_interval_hours: f64) {
    if record.kind != RecordKind::FUNDING {
        return;
    }
    let interval_ok = record
        .interval_hours
        .into_option()
        .is_some_and(|h| h.is_finite() && h > 0.0);
    if !interval_ok {
        record.interval_hours = ROption::RSome(default_interval_hours);
        record.interval_source = ROption::RSome(IntervalSource::DEFAULT);
    } else if record.interval_source.is_none() {
        record.interval_source = ROption::RSome(IntervalSource::REPORTED);
    }
    let interval = record.interval_hours.unwrap_or(default_interval_hours);
    match record.rate {
        ROption::RSome(rate) => {
            record.rate_8h = ROption::RSome(rate * 8.0 / interval);
            record.rate_annualized = ROption::RSome(rate * HOURS_PER_YEAR / interval);
        }
        ROption::RNone => {
            record.rate_8h = ROption::RNone;
            record.rate_annualized = ROption::RNone;
        }
    }
}

impl RecordStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.latest.values().map(SymbolSlots::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies one cycle's records: merge within the cycle, fill gaps from the previous state,
    /// normalize, remember, and return the complete records to emit.
    pub fn apply(
        &mut self,
        records: Vec<Record>,
        exchange_id: &str,
        default_interval_hours: f64,
    ) -> Vec<Record> {
        let mut out = merge_cycle(records);
        for record in &mut out {
            if record.exchange.as_str() != exchange_id {
                record.exchange = exchange_id.into();
            }
            let by_symbol = self.latest.entry(record.kind).or_default();
            match by_symbol.get_mut(record.raw_symbol.as_str()) {
                Some(old) => {
                    fill_missing(record, old);
                    normalize(record, default_interval_hours);
                    assign(old, record);
                }
                None => {
                    normalize(record, default_interval_hours);
                    by_symbol.insert(record.raw_symbol.clone(), record.clone());
                }
            }
        }
        out
    }

    /// Forgets instruments that left the exchange's universe (all kinds).
    pub fn retain_symbols(&mut self, keep: &std::collections::HashSet<&str>) {
        for by_symbol in self.latest.values_mut() {
            by_symbol.retain(|raw, _| keep.contains(raw));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{abi_stable::std_types::ROption::*, MarketType};

    fn rec(kind: RecordKind, raw: &str) -> Record {
        Record::new(
            kind,
            "x",
            raw,
            "BTC",
            "USDT",
            "USDT",
            MarketType::LINEAR_PERPETUAL,
            1,
        )
    }

    #[test]
    fn partial_records_merge_into_complete_ones() {
        let mut store = RecordStore::new();
        let mut price = rec(RecordKind::TICKER, "BTCUSDT");
        price.last = RSome(100.0);
        price.bid = RSome(99.0);
        let mut book = rec(RecordKind::TICKER, "BTCUSDT");
        book.ask = RSome(101.0);
        let out = store.apply(vec![price, book], "binance", 8.0);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].last, out[0].bid, out[0].ask),
            (RSome(100.0), RSome(99.0), RSome(101.0))
        );
        assert_eq!(out[0].exchange.as_str(), "binance");

        // Open interest arrives later, alone: the emitted ticker keeps the prices.
        let mut oi = rec(RecordKind::TICKER, "BTCUSDT");
        oi.open_interest_base = RSome(5.0);
        oi.received_ts = 2;
        let out = store.apply(vec![oi], "binance", 8.0);
        assert_eq!(out[0].last, RSome(100.0));
        assert_eq!(out[0].open_interest_base, RSome(5.0));
        assert_eq!(out[0].received_ts, 2);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn funding_normalization_and_defaults() {
        let mut store = RecordStore::new();
        let mut f = rec(RecordKind::FUNDING, "BTCUSDT");
        f.rate = RSome(0.0001);
        f.interval_hours = RSome(4.0);
        f.interval_source = RSome(IntervalSource::REPORTED);
        let out = store.apply(vec![f], "b", 8.0);
        assert_eq!(out[0].rate_8h, RSome(0.0002));
        assert!((out[0].rate_annualized.unwrap() - 0.0001 * 2190.0).abs() < 1e-12);

        // Next cycle without interval info keeps the known 4h (reported), not the default.
        let mut f = rec(RecordKind::FUNDING, "BTCUSDT");
        f.rate = RSome(0.0003);
        let out = store.apply(vec![f], "b", 8.0);
        assert_eq!(out[0].interval_hours, RSome(4.0));
        assert_eq!(out[0].interval_source, RSome(IntervalSource::REPORTED));

        // A new symbol with no interval anywhere gets the plugin default, marked as such.
        let mut g = rec(RecordKind::FUNDING, "ETHUSDT");
        g.rate = RSome(-0.0001);
        let out = store.apply(vec![g], "b", 8.0);
        assert_eq!(out[0].interval_hours, RSome(8.0));
        assert_eq!(out[0].interval_source, RSome(IntervalSource::DEFAULT));
        assert_eq!(out[0].rate_8h, RSome(-0.0001));

        // No rate: no derived rates (never 0).
        let h = rec(RecordKind::FUNDING, "SOLUSDT");
        let out = store.apply(vec![h], "b", 8.0);
        assert_eq!(out[0].rate_8h, RNone);
        assert_eq!(out[0].rate_annualized, RNone);
    }

    #[test]
    fn assign_makes_an_equal_record() {
        let mut a = rec(RecordKind::TICKER, "BTCUSDT");
        let mut b = rec(RecordKind::FUNDING, "ETHUSDT");
        b.rate = RSome(0.1);
        b.status = RSome("trading".into());
        b.push_extra("k", "v");
        b.exchange_ts = RSome(5);
        a.last = RSome(1.0);
        assign(&mut a, &b);
        assert_eq!(a, b);
        let c = rec(RecordKind::TICKER, "BTCUSDT");
        assign(&mut a, &c);
        assert_eq!(a, c);
    }

    #[test]
    fn duplicates_within_a_cycle_merge_in_any_order() {
        // Unsorted and duplicated: the hashing path.
        let mut b1 = rec(RecordKind::TICKER, "B");
        b1.last = RSome(1.0);
        let a = rec(RecordKind::TICKER, "A");
        let mut b2 = rec(RecordKind::TICKER, "B");
        b2.bid = RSome(0.5);
        let merged = merge_cycle(vec![b1, a.clone(), b2]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].raw_symbol.as_str(), "B");
        assert_eq!((merged[0].last, merged[0].bid), (RSome(1.0), RSome(0.5)));
        // Same symbol, different kinds: distinct. Unsorted but distinct: kept as is.
        let f = rec(RecordKind::FUNDING, "A");
        let kept = merge_cycle(vec![f.clone(), a.clone(), rec(RecordKind::TICKER, "0")]);
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[0], f);
    }

    #[test]
    fn stored_state_equals_what_was_emitted() {
        let mut store = RecordStore::new();
        let mut t = rec(RecordKind::TICKER, "BTCUSDT");
        t.last = RSome(1.0);
        t.push_extra("x", "1");
        let first = store.apply(vec![t], "binance", 8.0);
        let mut t = rec(RecordKind::TICKER, "BTCUSDT");
        t.bid = RSome(2.0);
        t.received_ts = 9;
        let second = store.apply(vec![t], "binance", 8.0);
        assert_eq!(second[0].last, RSome(1.0));
        assert_eq!(second[0].extra, first[0].extra);
        assert_eq!(
            store.latest[&RecordKind::TICKER].get("BTCUSDT"),
            Some(&second[0])
        );
    }

    #[test]
    fn retain_drops_delisted() {
        let mut store = RecordStore::new();
        store.apply(
            vec![rec(RecordKind::TICKER, "A"), rec(RecordKind::FUNDING, "B")],
            "x",
            8.0,
        );
        let keep: std::collections::HashSet<&str> = ["A"].into_iter().collect();
        store.retain_symbols(&keep);
        assert_eq!(store.len(), 1);
    }
}
