//! Response parsing per data kind: rows → normalized records.
//!
//! Owns: field mapping. Today only the generic part: every response is opened through the
//! envelope (so failures are classified) and its rows decoded; mapping rows to records is the
//! exchange-specific code still missing (`TODO(exchange)`), reported as one permanent error per
//! response instead of an empty success.
//! Must not: classify failures itself (`envelope::open` does), invent values (a missing input
//! stays `RNone`, never 0), compute `rate_8h`/`rate_annualized`, panic, or let one bad response
//! discard the records of the others.

use plugin_api::{Context, HttpResponse, ParseOutput, PluginError};
use plugin_kit::envelope::open;

use crate::{
    errors::TemplateEnvelope,
    model::Row,
    requests::{unknown_kind, KIND_FUNDING, KIND_INSTRUMENTS, KIND_TICKERS},
};

/// Parses all responses of one round of `kind`.
pub fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput {
    if ![KIND_INSTRUMENTS, KIND_TICKERS, KIND_FUNDING].contains(&kind) {
        return ParseOutput::from_error(unknown_kind(kind));
    }
    let mut out = ParseOutput::default();
    for response in responses {
        match open::<TemplateEnvelope, Vec<Row<'_>>>(response, ctx.now_ms) {
            // TODO(exchange): map each row to a record: instruments through
            // `plugin_kit::symbols::instrument_record` (contract size, tick size, status),
            // tickers and funding through `Record::for_instrument(kind, ctx.instrument(raw)?, …)`
            // (funding: `interval_hours` with its `interval_source`), skipped rows summarised by
            // `plugin_kit::SkippedSymbols`.
            Ok(opened) => out.errors.push(PluginError::permanent(
                response.tag(),
                format!(
                    "template adapter: mapping {} {kind} rows (first: {:?}) to records is not \
                     implemented",
                    opened.payload.len(),
                    opened.payload.first().map(|row| row.symbol)
                ),
            )),
            Err(error) => out.errors.push(error),
        }
    }
    out
}
