//! A Redis server of a test's own, on a random port, that the test may stop and start again
//! without disturbing anyone else. It keeps no data on disk unless the test asks for it
//! ([`PrivateRedis::start_with`]); whatever it writes goes into a folder of its own, removed
//! with it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct PrivateRedis {
    pub port: u16,
    /// Its working folder (`--dir`): AOF and RDB files, if the test turned them on.
    pub dir: PathBuf,
    extra_args: Vec<String>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl PrivateRedis {
    /// A server without persistence (`--save "" --appendonly no`).
    pub async fn start() -> PrivateRedis {
        PrivateRedis::start_with(&[]).await
    }

    /// A server started with `extra_args` after the defaults, which they override
    /// (`["--appendonly", "yes"]`, `["--rename-command", "CONFIG", ""]`…).
    pub async fn start_with(extra_args: &[&str]) -> PrivateRedis {
        let dir = std::env::temp_dir().join(crate::unique("portico-redis-"));
        std::fs::create_dir_all(&dir).expect("a folder for the private redis");
        let mut redis = PrivateRedis {
            port: free_port(),
            dir,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        redis.resume().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port, and waits until it answers.
    pub async fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (./dev test installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("private redis did not start on port {}", self.port);
    }

    /// Kills the server (as an outage would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
