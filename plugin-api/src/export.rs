//! Panic containment at the ABI boundary, and the macro that exports a plugin's root module.
//!
//! A panic that unwinds out of an `extern "C"` function aborts the process. Every entry point a
//! plugin exports therefore runs its body under `catch_unwind` here, once for all plugins, and a
//! panic becomes a `PluginError` of class `PLUGIN_PANIC` naming the panic message.

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::std_types::{RResult, RVec};

use crate::{ErrorClass, HttpRequest, ParseOutput, PluginError, PluginInfo};

/// The message of a caught panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

fn panic_error(entry_point: &str, payload: &(dyn std::any::Any + Send)) -> PluginError {
    PluginError::new(
        ErrorClass::PLUGIN_PANIC,
        "",
        format!(
            "plugin panicked in {entry_point}: {}",
            panic_message(payload)
        ),
    )
}

/// Runs a plugin's `info` under `catch_unwind`.
pub fn guard_info(f: impl FnOnce() -> PluginInfo) -> RResult<PluginInfo, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(info) => RResult::ROk(info),
        Err(payload) => RResult::RErr(panic_error("info", payload.as_ref())),
    }
}

/// Runs a plugin's `build_requests` under `catch_unwind`.
pub fn guard_build_requests(
    f: impl FnOnce() -> Result<Vec<HttpRequest>, PluginError>,
) -> RResult<RVec<HttpRequest>, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(requests)) => RResult::ROk(requests.into()),
        Ok(Err(error)) => RResult::RErr(error),
        Err(payload) => RResult::RErr(panic_error("build_requests", payload.as_ref())),
    }
}

/// Runs a plugin's `parse` under `catch_unwind`.
pub fn guard_parse(f: impl FnOnce() -> ParseOutput) -> ParseOutput {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(out) => out,
        Err(payload) => ParseOutput::from_error(panic_error("parse", payload.as_ref())),
    }
}

/// Exports a plugin. Give it three plain Rust functions:
///
/// ```text
/// fn info() -> PluginInfo;
/// fn build_requests(kind: &str, ctx: &Context<'_>) -> Result<Vec<HttpRequest>, PluginError>;
/// fn parse(kind: &str, responses: &[HttpResponse<'_>], ctx: &Context<'_>) -> ParseOutput;
///
/// plugin_api::export_plugin! { info: info, build_requests: build_requests, parse: parse }
/// ```
///
/// The macro generates the `extern "C"` entry points with panic containment and the
/// `abi_stable` root-module export. The plugin crate must depend on `abi_stable` directly (the
/// export attribute refers to it by name) and be built with `crate-type = ["cdylib", "rlib"]`.
#[macro_export]
macro_rules! export_plugin {
    (info: $info:path, build_requests: $build:path, parse: $parse:path $(,)?) => {
        #[::abi_stable::export_root_module]
        pub fn futures_collector_root_module() -> $crate::ExchangePluginRef {
            use ::abi_stable::prefix_type::PrefixTypeTrait;

            extern "C" fn __fc_info(
            ) -> ::abi_stable::std_types::RResult<$crate::PluginInfo, $crate::PluginError> {
                $crate::guard_info(|| {
                    let mut info = $info();
                    info.interface_version = $crate::INTERFACE_VERSION.into();
                    info
                })
            }

            extern "C" fn __fc_build_requests(
                kind: ::abi_stable::std_types::RStr<'_>,
                ctx: &$crate::Context<'_>,
            ) -> ::abi_stable::std_types::RResult<
                ::abi_stable::std_types::RVec<$crate::HttpRequest>,
                $crate::PluginError,
            > {
                $crate::guard_build_requests(|| $build(kind.as_str(), ctx))
            }

            extern "C" fn __fc_parse(
                kind: ::abi_stable::std_types::RStr<'_>,
                responses: ::abi_stable::std_types::RSlice<'_, $crate::HttpResponse<'_>>,
                ctx: &$crate::Context<'_>,
            ) -> $crate::ParseOutput {
                $crate::guard_parse(|| $parse(kind.as_str(), responses.as_slice(), ctx))
            }

            $crate::ExchangePlugin {
                info: __fc_info,
                build_requests: __fc_build_requests,
                parse: __fc_parse,
            }
            .leak_into_prefix()
        }
    };
}
