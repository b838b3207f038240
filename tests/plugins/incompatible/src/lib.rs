//! Test plugin built against a *changed* plugin interface: it exports a root module with the
//! same name and version as plugin-api's, but `build_requests` takes a different argument type.
//! The host must reject it with a clear "incompatible plugin interface" error and keep running.
//! Never shipped: it is not a default workspace member.

use abi_stable::{
    declare_root_module_statics, export_root_module,
    library::RootModule,
    prefix_type::PrefixTypeTrait,
    sabi_types::VersionStrings,
    std_types::{RStr, RString, RVec},
    StableAbi,
};

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ExchangePluginRef)))]
#[sabi(missing_field(panic))]
pub struct ExchangePlugin {
    pub info: extern "C" fn() -> RString,
    /// Changed: a `u64` where plugin-api has a `Context` reference.
    pub build_requests: extern "C" fn(kind: RStr<'_>, ctx: u64) -> RVec<u8>,
    #[sabi(last_prefix_field)]
    pub parse: extern "C" fn(kind: RStr<'_>) -> RVec<u8>,
}

impl RootModule for ExchangePluginRef {
    declare_root_module_statics! {ExchangePluginRef}
    const BASE_NAME: &'static str = "futures_collector_plugin";
    const NAME: &'static str = "futures_collector_plugin";
    // Same interface version as the host's plugin-api (keep in step with its INTERFACE_VERSION), so
    // the layout check is what rejects it.
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("0.2.0");
}

extern "C" fn info() -> RString {
    "incompatible".into()
}

extern "C" fn build_requests(_kind: RStr<'_>, _ctx: u64) -> RVec<u8> {
    RVec::new()
}

extern "C" fn parse(_kind: RStr<'_>) -> RVec<u8> {
    RVec::new()
}

#[export_root_module]
pub fn get_library() -> ExchangePluginRef {
    ExchangePlugin {
        info,
        build_requests,
        parse,
    }
    .leak_into_prefix()
}
