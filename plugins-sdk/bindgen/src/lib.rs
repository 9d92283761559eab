//! The `wit_bindgen::generate!` calls whose expansions are committed as the SDK's bindings
//! (`plugins-sdk/src/bindings/connector_0_2_0.rs`) and the legacy test guest's
//! (`tests/guests/legacy/src/bindings.rs`). `debug: true` makes the macro write its formatted
//! expansion to a file, which `scripts/regen-bindings` copies. Committing the expansion keeps
//! the macro's whole stack (syn, wit-parser, wit-component, wasmparser) out of every build of a
//! connector: a newcomer's first `cargo build` and this workspace's tests compile about a
//! minute less. The options here are the ones the generated files were made with; change them
//! only together with a regeneration (the SDK's tests compare a digest of this file and the
//! WIT files with the one each generated file records).

#[cfg(feature = "v0_2_0")]
pub mod v0_2_0 {
    wit_bindgen::generate!({
        path: "../wit/connector@0.2.0",
        world: "connector",
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "dunwell_plugin_sdk::bindings",
        debug: true,
    });
}

#[cfg(feature = "v0_1_0")]
pub mod v0_1_0 {
    wit_bindgen::generate!({
        path: "../wit/connector@0.1.0",
        world: "connector",
        debug: true,
    });
}
