//! Serde wire types of the rows inside each response's payload.
//!
//! Owns: field names as the exchange spells them, and which fields are required (a row without
//! one is the wrong shape, hence a `PARSE` error). Strings borrow from the body; numbers go
//! through plugin-kit's `de::opt_f64`/`opt_ts` so `""`, `null` and a missing field stay `None`.
//! Unknown fields are ignored (exchanges add fields without notice).
//! Must not: interpret values: that is `parse`'s job.

use serde::Deserialize;

/// One row of any kind's list. TODO(exchange): one struct per endpoint, with the fields read.
#[derive(Debug, Deserialize)]
pub struct Row<'a> {
    /// The exchange's own symbol.
    #[serde(borrow)]
    pub symbol: &'a str,
}
