//! Side-by-side Server-Sent Events benchmarks for actix-sse (issue 6).
//!
//! The crate holds five contestant servers ([`servers`]), an exact SSE client
//! ([`client`]), `/proc` readers ([`procfs`]) and the driver that runs every measurement
//! and prints the table ([`driver`]). The binary `actix-sse-bench` ties them together:
//! `actix-sse-bench all` runs everything, `actix-sse-bench server <contestant> <port>`
//! runs one server; `actix-sse-bench scale` holds as many streams as the open-files
//! limit allows ([`scale`]). The channel benchmarks of issue 10 are in [`channels`] (binary
//! `channels`).
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

pub mod channels;
pub mod client;
pub mod driver;
pub mod procfs;
pub mod proto;
pub mod scale;
pub mod servers;
