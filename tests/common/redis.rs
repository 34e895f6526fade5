//! A real `redis-server` per test: on a free port of 127.0.0.1, in a temporary directory,
//! stopped by PID. Needs Debian's `redis-server` (`.ci/run` installs it).

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// One redis-server process; killed when dropped.
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    persistent: bool,
    /// More arguments for `redis-server` (a replica's `--replicaof`).
    extra: Vec<String>,
    child: Option<Child>,
}

/// Fails the test, saying what to install, unless `redis-server` is here (tests named
/// `redis_…`).
pub fn require() {
    super::require(
        "redis_",
        super::program("redis-server", "apt-get install -y redis-server"),
    );
}

impl RedisServer {
    /// Starts a server that keeps nothing on disk.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts a server with an append-only file written on every command, so a restart
    /// keeps everything.
    pub fn start_persistent() -> Self {
        Self::start_with(true)
    }

    /// Starts a replica of the server on `master`'s port (nothing on disk).
    pub fn start_replica_of(master: u16) -> Self {
        let mut server = Self::start_with(false);
        server.command(&["REPLICAOF", "127.0.0.1", &master.to_string()]);
        server.extra = vec!["--replicaof".into(), "127.0.0.1".into(), master.to_string()];
        server
    }

    /// Starts it again (after `kill`), empty, as a replica of the server on `master`'s port:
    /// how an old master rejoins after a failover.
    pub fn restart_as_replica_of(&mut self, master: u16) {
        self.extra = vec!["--replicaof".into(), "127.0.0.1".into(), master.to_string()];
        self.restart();
    }

    /// Waits until a replica is online as this master sees it (from then on it
    /// acknowledges writes).
    pub async fn wait_for_replica(&self) {
        let start = Instant::now();
        while !self
            .command(&["INFO", "replication"])
            .contains("state=online")
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the replica never synced"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn start_with(persistent: bool) -> Self {
        let port = super::free_port();
        let dir =
            std::env::temp_dir().join(format!("actix-sse-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            port,
            dir,
            persistent,
            extra: Vec::new(),
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Starts it again (after `kill`) on the same port and directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", ""])
            .args(["--daemonize", "no", "--protected-mode", "no"])
            // A replica syncs at once (Redis waits 5 s for more replicas by default).
            .args(["--repl-diskless-sync-delay", "0"]);
        cmd.args(&self.extra);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let start = Instant::now();
        while !self.ping() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not answer on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 16];
        s.write_all(b"PING\r\n").is_ok()
            && s.read(&mut buf)
                .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }

    /// Runs one command (as `redis-cli` would) and returns the raw reply.
    pub fn command(&self, args: &[&str]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// `kill -9`: the process is gone at once, without saving.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Deletes what it saved (while it is stopped): the next start begins empty, as a
    /// restart without persistence does.
    pub fn wipe(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir).unwrap();
    }

    /// `SIGSTOP` (`true`) or `SIGCONT` (`false`): frozen, its connections stay open.
    pub fn freeze(&self, stop: bool) {
        let signal = if stop { "-STOP" } else { "-CONT" };
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One Redis Sentinel (`redis-server --sentinel`, what Debian's `redis-sentinel` runs)
/// watching the master on `master`'s port as `mymaster`; killed when dropped.
pub struct Sentinel {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl Sentinel {
    /// A sentinel alone: quorum 1.
    pub fn start(master: u16) -> Self {
        Self::start_with_quorum(master, 1)
    }

    /// One of several sentinels: `quorum` of them must agree that the master is down.
    pub fn start_with_quorum(master: u16, quorum: usize) -> Self {
        let port = super::free_port();
        let dir =
            std::env::temp_dir().join(format!("actix-sse-sentinel-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {dir}\n\
                 sentinel monitor mymaster 127.0.0.1 {master} {quorum}\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 5000\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        // `redis-sentinel` where Debian's package installed it, else the same server in
        // sentinel mode.
        let program = if Command::new("redis-sentinel")
            .arg("--version")
            .output()
            .is_ok()
        {
            "redis-sentinel"
        } else {
            "redis-server"
        };
        let child = Command::new(program)
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server --sentinel");
        let sentinel = Self { port, dir, child };
        let start = Instant::now();
        while !sentinel.command(&["PING"]).starts_with("+PONG") {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sentinel did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        sentinel
    }

    /// Runs one command; an empty reply if the sentinel cannot be reached.
    pub fn command(&self, args: &[&str]) -> String {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        if s.write_all(req.as_bytes()).is_err() {
            return String::new();
        }
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
