//! The `discguard` node: command line, settings, HTTP API, metrics exporter,
//! persistence, and output for consensus clients. The decisions live in the
//! pure crates (`discguard-netgroup`, `discguard-policy`); the discv5 node
//! and the curated view live in `discguard-service`.
//!
//! ```no_run
//! // The binary's whole main:
//! # async fn f() {
//! let code = discguard::run::main(std::env::args_os()).await;
//! std::process::exit(code);
//! # }
//! ```

pub mod cli;
pub mod client;
pub mod http;
pub mod persist;
pub mod run;
pub mod settings;
