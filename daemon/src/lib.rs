//! dunwell: chases unpaid invoices. See ARCHITECTURE.md for the map of this crate.

pub mod calendar;
pub mod channel;
pub mod cli;
pub mod cli_law;
pub mod cli_plugin;
pub mod cli_run;
pub mod cli_send;
pub mod config;
pub mod gsm;
pub mod http;
pub mod import;
pub mod law;
pub mod location;
pub mod model;
pub mod plan;
pub mod playbook;
pub mod plugin;
pub mod run;
pub mod sample;
pub mod segment;
pub mod send;
pub mod store;
pub mod sync;
pub mod template;
pub mod text;
