//! The runtime's integration tests that share nothing process-wide, in one binary (one
//! link instead of one per file); those that count allocations keep their own.

#[path = "../common/mod.rs"]
mod common;

mod body;
mod channels_behaviour;
mod channels_model;
mod channels_stress;
mod hardening;
mod start;
