//! The tests that share nothing process-wide (no global logger, subscriber, allocator or
//! counter they assert on), in one binary: one link instead of one per file, for a faster
//! first `cargo test`. Each file is a module; their own docs say what they test.

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

#[path = "../../examples/auth.rs"]
#[allow(dead_code)]
mod auth;
#[path = "../../examples/chat.rs"]
#[allow(dead_code)]
mod chat;
#[path = "../../examples/demo/main.rs"]
#[allow(dead_code)]
mod demo;
#[path = "../../examples/gateway.rs"]
#[allow(dead_code)]
mod gateway;
#[path = "../../examples/jobs.rs"]
#[allow(dead_code)]
mod jobs;
#[path = "../../examples/llm.rs"]
#[allow(dead_code)]
mod llm;
#[path = "../../examples/notifications.rs"]
#[allow(dead_code)]
mod notifications;

mod answer_http;
mod bounds_http;
mod browser;
mod browser_chat;
mod browser_h2;
mod channels_http;
mod client_browser;
mod client_http;
mod client_relay;
mod demo_process;
mod examples_http;
mod follow_process;
mod gateway_http;
mod http2;
mod http2_disconnect;
mod llm_http;
mod method_http;
mod proxy_nginx;
mod redis_channels;
mod redis_failovers;
mod redis_faults;
mod redis_scaleout;
mod resume_http;
mod runtime_http;
mod server_setup;
mod test_client;
mod wire_roundtrip;
