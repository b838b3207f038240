//! [`InstrumentTable`]: one value per instrument of a call's [`Context`], for joining several
//! responses of a round into one record per instrument.
//!
//! Owns: the slot per instrument (positions come from plugin-api's `instrument_position`, the
//! binary search [`Context::instrument`] uses too).
//! Must not: decide what a value is or when it is made (the plugin's closure does), or allocate
//! per lookup.

use plugin_api::{instrument_position, Context, Record};

/// An optional `T` per instrument of ctx, in ctx's order: a lookup is ctx's binary search (no
/// map keyed by symbol, no key allocated), and the values come out sorted by raw symbol.
pub struct InstrumentTable<'c, T> {
    instruments: &'c [Record],
    values: Vec<Option<T>>,
}

impl<'c, T> InstrumentTable<'c, T> {
    pub fn new(ctx: &Context<'c>) -> Self {
        let instruments = ctx.instruments.as_slice();
        Self {
            instruments,
            values: instruments.iter().map(|_| None).collect(),
        }
    }

    /// The value of the instrument `raw_symbol`, made from the instrument on first use; `None`
    /// when ctx does not list it.
    pub fn entry(
        &mut self,
        raw_symbol: &str,
        make: impl FnOnce(&'c Record) -> T,
    ) -> Option<&mut T> {
        self.entry_at(instrument_position(self.instruments, raw_symbol)?, make)
    }

    /// Like [`entry`](Self::entry), for the instrument at `at` in ctx's list.
    pub fn entry_at(&mut self, at: usize, make: impl FnOnce(&'c Record) -> T) -> Option<&mut T> {
        let instrument = self.instruments.get(at)?;
        Some(
            self.values
                .get_mut(at)?
                .get_or_insert_with(|| make(instrument)),
        )
    }

    /// ctx's instruments, in the table's order.
    pub fn instruments(&self) -> &'c [Record] {
        self.instruments
    }

    /// The values made so far with their instruments, sorted by raw symbol.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&'c Record, &mut T)> {
        self.instruments
            .iter()
            .zip(self.values.iter_mut())
            .filter_map(|(instrument, value)| Some((instrument, value.as_mut()?)))
    }

    /// How many values have been made.
    pub fn len(&self) -> usize {
        self.values.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values made, sorted by raw symbol.
    pub fn into_values(self) -> impl Iterator<Item = T> {
        self.values.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use plugin_api::{
        abi_stable::std_types::{RNone, RSlice, RStr},
        MarketType, RecordKind,
    };

    use super::*;

    fn instrument(raw: &str) -> Record {
        Record::new(
            RecordKind::INSTRUMENT,
            "x",
            raw,
            "B",
            "Q",
            "Q",
            MarketType::LINEAR_PERPETUAL,
            1,
        )
    }

    #[test]
    fn values_per_instrument_come_out_in_ctx_order() {
        let instruments = [
            instrument("AUSDT"),
            instrument("BUSDT"),
            instrument("CUSDT"),
        ];
        let ctx = Context {
            exchange_id: RStr::from_str("x"),
            now_ms: 0,
            instruments: RSlice::from_slice(&instruments),
            options: RSlice::from_slice(&[]),
            credentials: RNone,
        };
        let mut table = InstrumentTable::new(&ctx);
        assert!(table.is_empty());
        *table.entry("CUSDT", |_| 0).unwrap() += 3;
        *table.entry("AUSDT", |i| i.raw_symbol.len()).unwrap() += 1;
        *table.entry("CUSDT", |_| 100).unwrap() += 1; // made once
        assert!(table.entry("ZUSDT", |_| 0).is_none(), "not in ctx");
        assert!(table.entry_at(9, |_| 0).is_none(), "out of range");
        assert_eq!(table.len(), 2);
        let seen: Vec<(&str, usize)> = table
            .iter_mut()
            .map(|(i, v)| (i.raw_symbol.as_str(), *v))
            .collect();
        assert_eq!(seen, [("AUSDT", 6), ("CUSDT", 4)]);
        assert_eq!(table.into_values().collect::<Vec<_>>(), [6, 4]);
        assert_eq!(
            ctx.instrument("BUSDT").map(|r| r.raw_symbol.as_str()),
            Some("BUSDT")
        );
        assert!(ctx.instrument("BTC").is_none());
    }
}
