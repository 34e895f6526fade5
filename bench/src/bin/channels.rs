//! `channels`: the channel benchmarks of issue 10 (fan-out, reconnect storm, history
//! memory), or one of their servers.
//!
//! ```text
//! channels all|fanout|storm|history [--quick] [--subs N] [--rate R] [--secs S]
//!          [--clients N] [--behind N] [--only raw,hub]
//! channels server <raw|relay|hub> <port>
//! channels history-child <events> <topics> <size> [<rounds>]
//! channels hostile
//! channels rounds [<streams> [<rounds> [sub|bare|lab|ours|plain]]]
//! channels hostile-child <stalled|topics|many>
//! ```

use std::process::ExitCode;

use actix_sse_bench::{
    channels::{
        driver::{history_child, run_all, Config},
        hostile, Contestant, MAX_RUN_EVENTS,
    },
    driver::{pin_client, raise_fd_limit},
    proto::contestants_with_raw,
};

fn usage() -> ExitCode {
    eprintln!(
        "usage: channels all|fanout|storm|history [--quick] [--subs N] [--rate R] [--secs S] [--clients N] [--behind N] [--only raw,hub]\n       channels server <raw|relay|hub> <port>\n       channels history-child <events> <topics> <size> [<rounds>]\n       channels hostile | hostile-child <stalled|topics|many> | rounds [<streams> [<rounds> [sub|bare|lab|ours|plain]]]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        return usage();
    };
    match cmd.as_str() {
        "server" => {
            let (Some(Ok(c)), Some(Ok(port))) = (
                args.get(1).map(|c| c.parse::<Contestant>()),
                args.get(2).map(|p| p.parse::<u16>()),
            ) else {
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
        "history-child" => {
            let n: Vec<u64> = args[1..].iter().filter_map(|a| a.parse().ok()).collect();
            let (events, topics, size, rounds) = match n[..] {
                [events, topics, size] => (events, topics, size, 1),
                [events, topics, size, rounds] => (events, topics, size, rounds),
                _ => return usage(),
            };
            return match history_child(events, topics.max(1) as usize, size as usize, rounds) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("history-child: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        "hostile" | "rounds" => {
            let exe = std::env::current_exe().expect("current exe");
            raise_fd_limit();
            let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(19_000);
            let count = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(3);
            let target = match args.get(3).map(String::as_str) {
                Some("bare") => hostile::Target::HubBare,
                Some("lab") => hostile::Target::Idle("lab"),
                Some("ours") => hostile::Target::Idle("ours"),
                Some("plain") => hostile::Target::Idle("plain"),
                _ => hostile::Target::HubSub,
            };
            let ok = if cmd == "rounds" {
                hostile::run_rounds(&exe, n, count, target)
            } else {
                hostile::run(&exe)
            };
            return if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        "hostile-child" => {
            return match hostile::child(
                args.get(1).map_or("", String::as_str),
                args.get(2).and_then(|n| n.parse().ok()),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hostile-child: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        "all" | "fanout" | "storm" | "history" => {}
        _ => return usage(),
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut cfg = if args.iter().any(|a| a == "--quick") {
        Config::quick(exe)
    } else {
        Config::full(exe)
    };
    // `--subs` applies to every fan-out form; `--rate` or `--secs` leave one form.
    let (mut subs, mut rate, mut secs) = (None, None, None);
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let mut num = || {
            it.next()
                .and_then(|v| v.parse::<u64>().ok())
                .map(|n| n.max(1))
        };
        match a.as_str() {
            "--quick" => {}
            "--subs" => subs = num(),
            "--rate" => rate = num(),
            "--secs" => secs = num(),
            "--clients" => cfg.clients = num().unwrap_or(cfg.clients as u64).max(1) as usize,
            "--behind" => cfg.behind = num().unwrap_or(cfg.behind).max(1),
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
    if rate.is_some() || secs.is_some() {
        cfg.fanout.truncate(1);
    }
    let limit = raise_fd_limit();
    let max_conns = limit.saturating_sub(200) as usize;
    for form in &mut cfg.fanout {
        form.0 = subs.map_or(form.0, |n| n as usize);
        form.1 = rate.unwrap_or(form.1);
        form.2 = secs.unwrap_or(form.2);
        if form.1 * form.2 > MAX_RUN_EVENTS {
            eprintln!("--rate × --secs must be at most {MAX_RUN_EVENTS}");
            return usage();
        }
        if form.0 > max_conns {
            eprintln!(
                "open-files limit {limit}: {max_conns} subscribers instead of {}",
                form.0
            );
            form.0 = max_conns;
        }
    }
    if cfg.clients > max_conns {
        eprintln!(
            "open-files limit {limit}: {max_conns} clients instead of {}",
            cfg.clients
        );
        cfg.clients = max_conns;
    }
    cfg.pin = pin_client();
    if cfg!(debug_assertions) {
        eprintln!("note: debug build; use --release for real figures");
    }
    if run_all(&cfg, cmd) {
        ExitCode::SUCCESS
    } else {
        eprintln!("some measurements FAILED (see the table)");
        ExitCode::FAILURE
    }
}
