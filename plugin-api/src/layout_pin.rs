//! The ABI's layout, pinned: a fingerprint of every type reachable from the root module, checked
//! in beside the [`INTERFACE_VERSION`] it belongs to, so that an ABI change made without bumping
//! the interface version fails the tests instead of every deployed plugin.
//!
//! Owns: the canonical text of a layout (type names, sizes, alignments, field names and types,
//! enum variants, function signatures, the prefix type's suffix) and its hash.
//! Must not: include what changes without the ABI changing (crate versions, source lines), or
//! be compiled outside tests.

use std::{collections::HashSet, fmt::Write};

use abi_stable::{
    std_types::UTypeId,
    type_layout::{TLData, TLFields, TypeLayout},
    StableAbi,
};

use crate::{
    Context, ExchangePluginRef, HttpRequest, HttpResponse, ParseOutput, PluginError, PluginInfo,
    Record, INTERFACE_VERSION,
};

/// The interface version and the layout fingerprint that go together. Update both in one
/// change, and only when the ABI really changed (see `abi_layout_is_pinned`).
const PINNED: (&str, u64) = ("0.2.0", 0x0929_fbe8_d075_dab0);

/// FNV-1a, 64 bits: stable across Rust releases and platforms (std's hasher is not promised
/// to be).
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

/// One line per reachable type, in traversal order, each type once.
fn describe(layout: &'static TypeLayout, seen: &mut HashSet<UTypeId>, out: &mut String) {
    if !seen.insert(layout.get_utypeid()) {
        return;
    }
    let name = layout.full_type();
    let _ = writeln!(
        out,
        "{name} size={} align={} repr={:?}",
        layout.size(),
        layout.alignment(),
        layout.repr_attr()
    );
    match layout.data() {
        TLData::Primitive(primitive) => {
            let _ = writeln!(out, "  primitive {primitive:?}");
        }
        TLData::Opaque => out.push_str("  opaque\n"),
        TLData::Struct { fields } => describe_fields("struct", fields, out),
        TLData::Union { fields } => describe_fields("union", fields, out),
        TLData::Enum(tl_enum) => {
            let _ = writeln!(
                out,
                "  enum {:?} variants={} field counts={:?}",
                tl_enum.discriminants, tl_enum.variant_names, tl_enum.field_count
            );
            describe_fields("variant fields", tl_enum.fields, out);
        }
        TLData::PrefixType(prefix) => {
            let _ = writeln!(
                out,
                "  prefix first_suffix_field={}",
                prefix.first_suffix_field
            );
            describe_fields("prefix", prefix.fields, out);
        }
    }
    for nested in layout.shared_vars().type_layouts() {
        describe(nested(), seen, out);
    }
}

fn describe_fields(what: &str, fields: TLFields, out: &mut String) {
    for field in fields.iter() {
        let _ = writeln!(out, "  {what} .{}: {}", field.name(), field.full_type());
        for function in field.function_range() {
            let _ = writeln!(out, "    {function}");
        }
    }
}

/// The canonical text of the whole ABI.
fn abi_text() -> String {
    let roots: [&'static TypeLayout; 7] = [
        <ExchangePluginRef as StableAbi>::LAYOUT,
        <PluginInfo as StableAbi>::LAYOUT,
        <Record as StableAbi>::LAYOUT,
        <ParseOutput as StableAbi>::LAYOUT,
        <PluginError as StableAbi>::LAYOUT,
        <HttpRequest as StableAbi>::LAYOUT,
        <HttpResponse<'static> as StableAbi>::LAYOUT,
    ];
    let mut seen = HashSet::new();
    let mut out = String::new();
    for root in roots {
        describe(root, &mut seen, &mut out);
    }
    describe(<Context<'static> as StableAbi>::LAYOUT, &mut seen, &mut out);
    out
}

/// The pin is taken on 64-bit targets (sizes and alignments are part of it).
#[test]
#[cfg(target_pointer_width = "64")]
fn abi_layout_is_pinned() {
    let text = abi_text();
    let fingerprint = fnv1a(text.as_bytes());
    let (pinned_version, pinned_fingerprint) = PINNED;
    assert!(
        fingerprint == pinned_fingerprint && INTERFACE_VERSION == pinned_version,
        "\nThe plugin ABI's layout fingerprint is {fingerprint:#018x} at INTERFACE_VERSION \
         {INTERFACE_VERSION}; the pin says {pinned_fingerprint:#018x} at {pinned_version}.\n\
         - If you changed a type that crosses the plugin boundary: that breaks every built \
         plugin. Bump INTERFACE_VERSION (plugin-api/src/module.rs): its patch number when you only \
         appended an entry point to the root module (older hosts keep loading newer plugins), \
         else its 0.y (plugins of the old interface are refused with a clear message); then set PINNED in plugin-api/src/layout_pin.rs to \
         (\"<new version>\", {fingerprint:#018x}) and note the change in docs/plugin-api.md.\n\
         - If you did not mean to change the ABI: undo the change to the type.\n\
         - If you bumped INTERFACE_VERSION without changing the ABI: undo the bump (it would \
         refuse every deployed plugin for nothing).\n\
         - An abi_stable upgrade can change the layout too: plugins built with the older \
         abi_stable no longer match either, so that is an interface bump as well.\n\
         The layout now (compare it with the pinned commit's output):\n{text}"
    );
}

#[test]
fn the_fingerprint_sees_field_names_and_types() {
    let text = abi_text();
    for expected in [
        "prefix .build_requests",
        "struct .interface_version: RString",
        "struct .retry_after_ms: ROption",
        "struct .raw_symbol: IdentityStr",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
}

/// abi_stable stamps every type with the crate version it was compiled as (`CARGO_PKG_VERSION`)
/// and compares it when it loads a plugin: build.rs must have made that the interface version.
#[test]
fn abi_stable_sees_the_interface_version() {
    assert_eq!(
        env!("CARGO_PKG_VERSION"),
        INTERFACE_VERSION,
        "plugin-api/build.rs must compile this crate as version INTERFACE_VERSION"
    );
    let (package, version) = <Record as StableAbi>::LAYOUT.package_and_version();
    assert_eq!(package.as_str(), "futures-collector-plugin-api");
    assert_eq!(version.to_string(), INTERFACE_VERSION);
}
