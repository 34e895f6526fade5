//! Readers for `/proc/PID/status` and `/proc/PID/stat`.

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`, ...), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

/// Resident set size in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    status_kib(pid, "VmRSS")
}

/// Peak resident set size in KiB.
pub fn hwm_kib(pid: u32) -> Result<u64, String> {
    status_kib(pid, "VmHWM")
}

/// CPU time (`utime + stime`, all threads) of the process, in seconds.
pub fn cpu_secs(pid: u32) -> Result<f64, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after = &text[text.rfind(')').ok_or("malformed stat")? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here (0-based
    // 11 and 12).
    let ticks: u64 = f
        .get(11)
        .and_then(|s| s.parse::<u64>().ok())
        .zip(f.get(12).and_then(|s| s.parse::<u64>().ok()))
        .map(|(u, s)| u + s)
        .ok_or("malformed stat")?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(ticks as f64 / hz)
}

/// CPU time of the process so far in ns: schedstat if the kernel has it (ns resolution),
/// else utime + stime (clock ticks).
pub fn cpu_ns(pid: u32) -> Result<u64, String> {
    match sched_ns(pid) {
        Some(ns) => Ok(ns),
        None => cpu_secs(pid).map(|s| (s * 1e9) as u64),
    }
}

/// CPU time (user + system) of the calling thread, in seconds.
pub fn thread_cpu_secs() -> f64 {
    // SAFETY: a zeroed rusage is valid for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// On-CPU time of all threads of the process in nanoseconds, from
/// `/proc/PID/task/*/schedstat` (nanosecond resolution, where `/proc/PID/stat` counts
/// clock ticks). `None` if the kernel has no schedstat.
pub fn sched_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = entry.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split(' ').next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Open file descriptors of the process (the entries of `/proc/PID/fd`): for a server,
/// its connections plus a handful (listener, epoll, pipes).
pub fn fd_count(pid: u32) -> Result<usize, String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .map_err(|e| format!("/proc/{pid}/fd: {e}"))
}
