//! The manual: how streams behave, what reaches the wire, channels, bounds, scaling out,
//! testing, monitoring, and what does not hold everywhere.
//!
//! These pages hold no items; the API is documented on its own pages, linked from here.
//!
//! - [How streams behave](lifecycle): delivery, heartbeat, back-pressure, disconnect,
//!   stuck readers, close, answering before streaming, graceful shutdown, faults.
//! - [Wire guarantees](wire): the WHATWG rules the encoder follows, and the response
//!   headers.
//! - [Channels](channels): one event to many subscribers, with ids and exact replay from
//!   `Last-Event-ID`.
//! - [Bounds](bounds): everything a client can make the server hold, its default bound, and
//!   what happens when it is reached.
//! - [Scaling out](scaling_out): several instances sharing channels through Redis (the
//!   `redis` feature).
//! - [The client](client): reading streams with reconnection and resume, relaying them
//!   (the `client` feature), next to Ktor's client plugin.
//! - [Testing your handlers](testing): the test client, on tokio's paused clock.
//! - [Monitoring](monitoring): counters, the Prometheus rendering, logs.
//! - [Performance](performance): throughput and memory against the peers.
//! - [Limitations](limitations): HTTP versions, `Last-Event-ID`, Redis deployments.
//! - [Ktor's API and ours](ktor): the model of this crate, row by row.
//!
//! The pages' code compiles and runs as the crate's doctests.

// Each page is a Markdown file beside this one: long prose and tables read and diff
// better without a `//!` on every line, and the file renders as a page on its own too.

pub mod lifecycle {
    #![doc = include_str!("lifecycle.md")]
}

pub mod wire {
    #![doc = include_str!("wire.md")]
}

pub mod channels {
    #![doc = include_str!("channels.md")]
}

pub mod bounds {
    #![doc = include_str!("bounds.md")]
}

pub mod scaling_out {
    #![doc = include_str!("scaling_out.md")]
}

pub mod client {
    #![doc = include_str!("client.md")]
}

pub mod testing {
    #![doc = include_str!("testing.md")]
}

pub mod monitoring {
    #![doc = include_str!("monitoring.md")]
}

pub mod performance {
    #![doc = include_str!("performance.md")]
}

pub mod limitations {
    #![doc = include_str!("limitations.md")]
}

pub mod ktor {
    #![doc = include_str!("ktor.md")]
}
