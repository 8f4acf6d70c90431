//! discguard integration tests: one binary (reth style), one module per area.
//! Every test binds distinct 127.x.y.z addresses (its own /24s), never a
//! port shared with another test, and waits on events or conditions.

mod alerts;
mod bad_input;
mod compose;
mod dashboards;
mod e2e;
mod interop;
mod metrics;
mod prometheus;
mod real_enrs;
mod risk;
mod scoring;
