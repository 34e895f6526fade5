//! `actix-sse-bench`: run a contestant server, or the benchmarks.
//!
//! ```text
//! actix-sse-bench all [--quick] [--runs R] [--conns N] [--only ours,raw] [--no-pin] [--sizes 64,4096]
//! actix-sse-bench throughput|idle|fanout|slow [same options]
//! actix-sse-bench scale [--quick] [--conns N] [--only ours,lab]   # 19,000 streams
//! actix-sse-bench server <raw|ours|lab|axum|plain> <port>
//! ```

use std::{process::ExitCode, time::Duration};

use actix_sse_bench::{
    driver::{pin_client, raise_fd_limit, run_all, Config},
    proto::contestants_with_raw,
    scale::run_scale,
    servers::Contestant,
};

fn usage() -> ExitCode {
    eprintln!(
        "usage: actix-sse-bench all|throughput|idle|fanout|slow|scale [--quick] [--runs R] [--conns N] [--only a,b] [--no-pin] [--sizes 64,4096]\n       actix-sse-bench server <raw|ours|lab|axum|plain> <port>"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        return usage();
    };
    if cmd == "server" {
        let (Some(c), Some(port)) = (args.get(1), args.get(2)) else {
            return usage();
        };
        let (Ok(c), Ok(port)) = (c.parse::<Contestant>(), port.parse::<u16>()) else {
            return usage();
        };
        raise_fd_limit();
        // Die with the driver even if it is killed before it can stop us by PID.
        // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and has no other effect.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        return match c.serve(port) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{c} server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if !["all", "throughput", "idle", "fanout", "slow", "scale"].contains(&cmd.as_str()) {
        return usage();
    }
    let scale = cmd == "scale";
    let exe = std::env::current_exe().expect("current exe");
    let mut cfg = Config::full(exe);
    if scale {
        // 19,000 streams: what one process holds under an open-files limit of 20,000.
        cfg.conns = 19_000;
        cfg.contestants = vec![Contestant::Raw, Contestant::Ours, Contestant::Lab];
    }
    let mut conns = None;
    let mut it = args.iter().skip(1);
    let mut pin = true;
    while let Some(a) = it.next() {
        match a.as_str() {
            // Servers and client left to the scheduler (by default each has its own CPU).
            "--no-pin" => pin = false,
            "--sizes" => {
                let list = it.next().map(String::as_str).unwrap_or_default();
                match list
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<usize>, _>>()
                {
                    Ok(sizes) if !sizes.is_empty() => cfg.sizes = sizes,
                    _ => return usage(),
                }
            }
            "--quick" if scale => {
                cfg.conns = 500;
                cfg.window = Duration::from_secs(1);
                cfg.settle = Duration::from_millis(300);
                cfg.fanout_msgs = 3;
            }
            "--quick" => {
                cfg.runs = 1;
                cfg.conns = 1000;
                cfg.min_run = Duration::from_millis(300);
                cfg.window = Duration::from_secs(2);
                cfg.fanout_msgs = 3;
                cfg.slow_clients = 10;
                cfg.slow_secs = 3;
            }
            "--runs" => cfg.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(3).max(1),
            // Applied after every option, so that it overrides --quick in any order.
            "--conns" => conns = Some(it.next().and_then(|v| v.parse().ok()).unwrap_or(10_000)),
            "--only" => {
                let list = it.next().cloned().unwrap_or_default();
                match contestants_with_raw(&list, Contestant::Raw) {
                    Ok(v) => cfg.contestants = v,
                    Err(e) => {
                        eprintln!("{e}");
                        return usage();
                    }
                }
            }
            _ => return usage(),
        }
    }
    if let Some(n) = conns {
        cfg.conns = n;
    }
    let limit = raise_fd_limit();
    let max_conns = limit.saturating_sub(200) as usize;
    if cfg.conns > max_conns {
        eprintln!(
            "open-files limit {limit}: using {max_conns} connections instead of {}",
            cfg.conns
        );
        cfg.conns = max_conns;
    }
    cfg.pin = pin && pin_client();
    if cfg!(debug_assertions) {
        eprintln!("note: debug build; use --release for real figures");
    }
    let ok = if scale {
        run_scale(&cfg)
    } else {
        run_all(&cfg, &[cmd.as_str()])
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("some measurements FAILED (see the table)");
        ExitCode::FAILURE
    }
}
