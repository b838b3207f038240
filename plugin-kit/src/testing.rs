//! Building inputs for adapter tests: an [`HttpResponse`] around a recorded body; and reading a
//! plugin's kinds as a table to compare with the documented one.
//!
//! Owns: test-input construction shared by the kit's and the adapters' tests.
//! Must not: be called on a plugin's runtime path (it fixes `received_ts` to 1).

use plugin_api::{HttpRequest, HttpResponse, KeyValueRef, PluginInfo, RecordKind};

/// The response to `request` with `status`, `headers` and `body`, received at Unix ms 1.
pub fn response<'a>(
    request: &'a HttpRequest,
    status: u16,
    headers: &'a [KeyValueRef<'a>],
    body: &'a [u8],
) -> HttpResponse<'a> {
    HttpResponse {
        request,
        status,
        headers: headers.into(),
        body: body.into(),
        received_ts: 1,
    }
}

/// `info`'s kinds as (name, emits, default interval ms, needs instruments), in order; every
/// kind must have a description (asserted: this is a test helper).
pub fn kind_table(info: &PluginInfo) -> Vec<(&str, RecordKind, u64, bool)> {
    info.kinds
        .iter()
        .map(|k| {
            assert!(
                !k.description.is_empty(),
                "kind {} has no description",
                k.name
            );
            (
                k.name.as_str(),
                k.emits,
                k.default_interval_ms,
                k.needs_instruments,
            )
        })
        .collect()
}
