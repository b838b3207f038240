//! Building inputs for adapter tests: an [`HttpResponse`] around a recorded body.
//!
//! Owns: test-input construction shared by the kit's and the adapters' tests.
//! Must not: be called on a plugin's runtime path (it fixes `received_ts` to 1).

use plugin_api::{HttpRequest, HttpResponse, KeyValueRef};

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
