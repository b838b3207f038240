//! `Record`'s field list, written once, by what the host does with each field; and the check
//! that it is complete: a field added to `Record` in plugin-api fails to compile here (and in
//! every consumer that destructures a record exhaustively: the change-detection encoding and
//! the message format) until it is placed in a group.
//!
//! Owns the grouping. Must not hold logic: consumers pass a macro that receives the groups
//! (`record_fields!(my_macro)`), as the record store's merge does.
//!
//! The groups:
//! - `identity`: which instrument of which exchange (the newest record's are kept);
//! - `received`: when the host received it (never carried over);
//! - `carried`: values a later record may lack (a kind that refreshes only some fields): the
//!   merge carries the previous value over;
//! - `interval`: the funding interval and its source, carried over together;
//! - `derived`: computed by the host after the merge;
//! - `extra`: the exchange-specific extras, carried over as a whole when a record has none.

/// Calls `$callback!` with every field of `Record`, grouped (see the module header).
macro_rules! record_fields {
    ($callback:ident) => {
        $callback! {
            identity: [kind, exchange, symbol, raw_symbol, base, quote, settle, market_type],
            received: [received_ts],
            carried: [
                exchange_ts, last, bid, ask, mark, index, volume_24h_base, volume_24h_quote,
                open_interest_base, open_interest_quote, rate, next_funding_ts, predicted_rate,
                rate_cap, rate_floor, contract_size, tick_size, status, listing_ts, delisting_ts
            ],
            interval: [interval_hours, interval_source],
            derived: [rate_8h, rate_annualized],
            extra: [extra],
        }
    };
}
pub(crate) use record_fields;

/// Compiles only while the groups name every field of `Record`, each once.
macro_rules! every_field_once {
    ($($group:ident: [$($field:ident),* $(,)?]),* $(,)?) => {
        #[allow(dead_code)]
        fn every_field_once(r: plugin_api::Record) {
            let plugin_api::Record { $($($field: _,)*)* } = r;
        }
    };
}
record_fields!(every_field_once);
