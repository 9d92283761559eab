//! The dunwell plugin SDK: write a connector as ordinary Rust, build it to a WebAssembly
//! component, and dunwell runs it in a sandbox.
//!
//! A connector implements [`Connector`] and calls [`export_connector!`] once:
//!
//! ```
//! use dunwell_plugin_sdk::prelude::*;
//!
//! struct Acme;
//! impl Connector for Acme {
//!     fn describe() -> Info {
//!         info("acme", env!("CARGO_PKG_VERSION"), "Acme Books")
//!             .http_host("api.acme.example")
//!             .provides(false, true, false)
//!     }
//!     fn pull_invoices(req: PageRequest) -> Result<InvoicePage, ConnectorError> {
//!         // One page of what changed since `req.cursor`, read from the API ...
//!         let items = vec![
//!             Invoice::new("a1", "AC-1", "C1", "2026-09-01", "2026-10-01", "EUR", "121.00").open("121.00"),
//!             Invoice::new("a2", "AC-2", "C1", "2026-09-15", "2026-10-15", "EUR", "80.00")
//!                 .paid()
//!                 .paid_date("2026-09-20"),
//!         ];
//!         Ok(InvoicePage { items, next_cursor: Some("2026-09-20T00:00:00Z".into()), more: false })
//!     }
//! }
//! export_connector!(Acme);
//! # assert_eq!(Acme::pull_invoices(PageRequest { cursor: None, limit: 100 }).unwrap().items.len(), 2);
//! ```
//!
//! Records are built with [`Invoice::new`], [`Customer::new`] and [`Payment::new`] and chained
//! setters for what the source has ([`records`]); the contract's version is [`WIT_VERSION`].
//!
//! Everything the host grants goes through this crate: [`log`] lines, [`config`] values and
//! [`secret`]s, and the [`http`] client (which reaches only hosts the operator allowed).
//! Amounts cross the boundary as exact decimal text: use [`decimal`] to read and write them.
//!
//! Outside WebAssembly (`cargo test` on your machine) the host functions are served by
//! [`testing`], so connector logic can be unit-tested natively with canned HTTP responses.

#![deny(missing_docs)]

#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    // `wit_bindgen::generate!` for wit/connector@0.2.0, expanded once and committed
    // (scripts/regen-bindings; the options are in plugins-sdk/bindgen/src/lib.rs): a connector's
    // build then compiles no proc-macro stack (syn, wit-parser, wit-component, wasmparser).
    include!("bindings/connector_0_2_0.rs");
}

pub mod date;
pub mod decimal;
pub mod fields;
pub mod files;
pub mod http;
pub mod json;
pub mod paging;
pub mod records;
pub mod testing;

/// The exact decimal type amounts are parsed into.
pub use rust_decimal::Decimal;

pub use bindings::dunwell::connector::host::Level;
pub use bindings::dunwell::connector::types::{
    Address, ConnectorError, Customer, CustomerKind, CustomerPage, DocumentKind, Invoice, InvoicePage,
    InvoiceStatus, PageRequest, Payment, PaymentPage,
};
pub use bindings::exports::dunwell::connector::source::{ConfigKey, Info};

pub use records::{IntoAmount, MaybeAmount, MaybeText};

/// The version of the WIT contract this SDK speaks (`dunwell:connector@0.2.0`).
pub const WIT_VERSION: &str = "0.2.0";
/// The version of this SDK, reported in [`Info::sdk_version`].
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where the host mounts the one read-only directory of a file connector.
pub const INPUT_DIR: &str = "/input";

/// The start of an amount that says "this record cannot be used, and here is why". The
/// contract has no field for that, so a connector that finds a record it cannot read (a bank batch
/// whose details do not add up to the entry) passes it on with such an amount instead of
/// guessing or failing its whole pull: the host sets the record aside (quarantine, listed by
/// `dunwell quarantine`) with the reason, stores the rest of the run, and asks again next sync.
pub const UNUSABLE_PREFIX: &str = "unusable: ";

/// An amount field that makes the host quarantine the record with `reason` (see
/// [`UNUSABLE_PREFIX`]).
pub fn unusable(reason: &str) -> String {
    format!("{UNUSABLE_PREFIX}{reason}")
}

/// Everything a connector usually needs, in one `use`.
pub mod prelude {
    pub use crate::decimal::{format_amount, parse_amount};
    pub use crate::fields::{fields, Context, Fields};
    pub use crate::http::{self, Response};
    pub use crate::json::{self, JsonAmount};
    pub use crate::paging::OffsetPaging;
    pub use crate::{
        config, export_connector, info, log, page, require_config, secret, Address, ConfigKey, Connector,
        ConnectorError, Customer, CustomerKind, CustomerPage, DocumentKind, Info, InfoExt, Invoice,
        InvoicePage, InvoiceStatus, Level, PageRequest, Payment, PaymentPage, INPUT_DIR,
    };
    pub use crate::{date, Decimal};
    pub use crate::{unusable, UNUSABLE_PREFIX};
}

/// A connector: describe yourself, and pull what changed since a cursor, one page at a time.
///
/// The cursor is yours: whatever string you return as `next_cursor` comes back on the next
/// call (and the next sync). `None` means "from the beginning". Every pull has a default that
/// provides nothing, so implement only what your source has.
pub trait Connector {
    /// Name, version, what the connector needs (hosts, directory, config keys).
    fn describe() -> Info;

    /// Customers changed since `request.cursor`.
    fn pull_customers(request: PageRequest) -> Result<CustomerPage, ConnectorError> {
        Ok(CustomerPage { items: Vec::new(), next_cursor: request.cursor, more: false })
    }

    /// Invoices and credit notes changed since `request.cursor`.
    fn pull_invoices(request: PageRequest) -> Result<InvoicePage, ConnectorError> {
        Ok(InvoicePage { items: Vec::new(), next_cursor: request.cursor, more: false })
    }

    /// Payments received since `request.cursor`.
    fn pull_payments(request: PageRequest) -> Result<PaymentPage, ConnectorError> {
        Ok(PaymentPage { items: Vec::new(), next_cursor: request.cursor, more: false })
    }
}

/// Exports a [`Connector`] implementation as the component's `source` interface. Call it once,
/// at the top level of your crate. On native targets (unit tests) it expands to nothing.
#[macro_export]
macro_rules! export_connector {
    ($t:ty) => {
        // Only in WebAssembly: the component export names are not valid native symbol names.
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        pub struct __DunwellExport;

        #[cfg(target_arch = "wasm32")]
        impl $crate::bindings::exports::dunwell::connector::source::Guest for __DunwellExport {
            fn describe() -> $crate::Info {
                <$t as $crate::Connector>::describe()
            }
            fn pull_customers(
                request: $crate::PageRequest,
            ) -> ::core::result::Result<$crate::CustomerPage, $crate::ConnectorError> {
                <$t as $crate::Connector>::pull_customers(request)
            }
            fn pull_invoices(
                request: $crate::PageRequest,
            ) -> ::core::result::Result<$crate::InvoicePage, $crate::ConnectorError> {
                <$t as $crate::Connector>::pull_invoices(request)
            }
            fn pull_payments(
                request: $crate::PageRequest,
            ) -> ::core::result::Result<$crate::PaymentPage, $crate::ConnectorError> {
                <$t as $crate::Connector>::pull_payments(request)
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_world!(__DunwellExport with_types_in $crate::bindings);
    };
}

/// Starts an [`Info`] with the SDK version filled in and nothing requested; add what you
/// need with the [`InfoExt`] methods.
pub fn info(name: &str, version: &str, description: &str) -> Info {
    Info {
        name: name.to_string(),
        version: version.to_string(),
        sdk_version: SDK_VERSION.to_string(),
        description: description.to_string(),
        http_hosts: Vec::new(),
        reads_directory: false,
        config_keys: Vec::new(),
        provides_customers: false,
        provides_invoices: false,
        provides_payments: false,
        snapshot: false,
    }
}

/// Builder methods for [`Info`].
pub trait InfoExt {
    /// Asks for a host the operator must allow (`api.example.com`).
    fn http_host(self, host: &str) -> Self;
    /// Asks for the read-only directory at [`INPUT_DIR`].
    fn reads_directory(self) -> Self;
    /// Declares a configuration key (read with [`config`]).
    fn config_key(self, name: &str, required: bool, description: &str) -> Self;
    /// Declares a secret (read with [`secret`]).
    fn secret_key(self, name: &str, required: bool, description: &str) -> Self;
    /// Declares what the connector provides.
    fn provides(self, customers: bool, invoices: bool, payments: bool) -> Self;
    /// Says that every pull is a complete snapshot: for an API without a change feed (it
    /// cannot list what changed or was deleted since a time). dunwell then pulls from no cursor
    /// on every sync and removes what a pull lacks, as a full sync does; an empty answer
    /// removes nothing (see the README).
    ///
    /// ```
    /// # use dunwell_plugin_sdk::prelude::*;
    /// let info = info("ledger", "1.0.0", "A ledger without a change feed").provides(true, true, false).snapshot();
    /// assert!(info.snapshot);
    /// ```
    fn snapshot(self) -> Self;
}

impl InfoExt for Info {
    fn http_host(mut self, host: &str) -> Self {
        self.http_hosts.push(host.to_string());
        self
    }
    fn reads_directory(mut self) -> Self {
        self.reads_directory = true;
        self
    }
    fn config_key(self, name: &str, required: bool, description: &str) -> Self {
        with_key(self, name, false, required, description)
    }
    fn secret_key(self, name: &str, required: bool, description: &str) -> Self {
        with_key(self, name, true, required, description)
    }
    fn provides(mut self, customers: bool, invoices: bool, payments: bool) -> Self {
        self.provides_customers = customers;
        self.provides_invoices = invoices;
        self.provides_payments = payments;
        self
    }
    fn snapshot(mut self) -> Self {
        self.snapshot = true;
        self
    }
}

fn with_key(mut info: Info, name: &str, secret: bool, required: bool, description: &str) -> Info {
    info.config_keys.push(ConfigKey { name: name.into(), secret, required, description: description.into() });
    info
}

/// Writes a log line; the host attributes it to your connector. Never log secrets.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::dunwell::connector::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    testing::log(level, message);
}

/// A value from the connector's section in `dunwell.toml`.
pub fn config(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return bindings::dunwell::connector::host::config(key);
    #[cfg(not(target_arch = "wasm32"))]
    return testing::config(key);
}

/// A configuration value that must be present.
pub fn require_config(key: &str) -> Result<String, ConnectorError> {
    config(key).ok_or_else(|| ConnectorError::InvalidConfig(format!("the config value `{key}` is missing")))
}

/// A secret (API token) from the connector's section in `dunwell.toml`.
pub fn secret(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return bindings::dunwell::connector::host::secret(key);
    #[cfg(not(target_arch = "wasm32"))]
    return testing::secret(key);
}

/// Offset paging over a list you hold in full (files in a folder, a full export): returns the
/// page of `all` after `request.cursor` (an offset written by an earlier call), the cursor of
/// the next page and whether more follow. The cursor is [`paging::OffsetPaging`]'s `offset:N`.
pub fn page<T>(all: Vec<T>, request: &PageRequest) -> Result<(Vec<T>, Option<String>, bool), ConnectorError> {
    let start = paging::OffsetPaging::offset_of(request.cursor.as_deref())?;
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let limit = (request.limit as usize).max(1);
    let total = all.len();
    let items: Vec<T> = all.into_iter().skip(start).take(limit).collect();
    let end = start.saturating_add(items.len());
    Ok((items, Some(paging::OffsetPaging::cursor(end as u64)), end < total))
}

/// The committed bindings are the expansion of their inputs as they are now: a change to a WIT
/// contract or to the generator's options without `scripts/regen-bindings` fails here, not in a
/// connector that no longer matches the host.
#[cfg(test)]
mod bindings_are_fresh {
    use sha2::{Digest, Sha256};
    use std::path::Path;

    /// What scripts/regen-bindings hashes: the generator's source, then each `.wit` file of the
    /// contract by name, its name and a newline before its text.
    fn digest(root: &Path, version: &str) -> String {
        let mut h = Sha256::new();
        h.update(std::fs::read(root.join("plugins-sdk/bindgen/src/lib.rs")).unwrap());
        let dir = root.join(format!("plugins-sdk/wit/connector@{version}"));
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".wit"))
            .collect();
        names.sort();
        for name in names {
            h.update(format!("{name}\n"));
            h.update(std::fs::read(dir.join(&name)).unwrap());
        }
        format!("{:x}", h.finalize())
    }

    fn recorded(file: &Path) -> String {
        let text = std::fs::read_to_string(file).unwrap();
        let line = text.lines().nth(1).unwrap_or_default();
        line.strip_prefix("// inputs sha256: ")
            .unwrap_or_else(|| panic!("{}: no digest line", file.display()))
            .into()
    }

    #[test]
    fn each_generated_file_records_the_digest_of_its_inputs() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for (version, file) in [
            ("0.2.0", "plugins-sdk/src/bindings/connector_0_2_0.rs"),
            ("0.1.0", "tests/guests/legacy/src/bindings.rs"),
        ] {
            let file = root.join(file);
            assert_eq!(
                recorded(&file),
                digest(root, version),
                "{} is stale: its WIT contract or the generator changed; run scripts/regen-bindings",
                file.display()
            );
        }
    }
}
