//! Mail for the benchmarks of the mailer: login jobs made as the gateway makes them, put on
//! the stream, and Postfix's `smtp-sink` (and `smtp-source`) to send them to on loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use portico_shared::keys::Keyring;
use portico_shared::mail::{FirmBrand, LinkSecrets, MailJob, Recipient, Template};
use portico_shared::redis_conn::RedisConn;
use portico_shared::redis_conn::RedisKeys;
use portico_shared::secret::{hex, random_bytes};

use crate::system::{self, ChildGuard};

/// Starts `smtp-sink` on a free loopback port (1024 sessions at most) and waits until it
/// listens; returns it and its port.
pub async fn start_sink(smtp_sink: &Path) -> Result<(ChildGuard, u16)> {
    let port = system::free_port()?;
    let mut sink = Command::new(smtp_sink);
    if is_root() {
        // smtp-sink refuses to keep root privileges.
        sink.args(["-u", "nobody"]);
    }
    let sink = ChildGuard {
        child: sink
            .arg(format!("127.0.0.1:{port}"))
            .arg("1024")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting smtp-sink")?,
        name: "smtp-sink",
    };
    wait_for_port(port).await?;
    Ok((sink, port))
}

/// `count` login jobs as the gateway makes them, sealed and tagged with `keys` for
/// `prefix`.
pub fn login_jobs(keys: &Keyring, prefix: &str, count: usize) -> Vec<String> {
    let redis_keys = RedisKeys::new(prefix);
    (0..count)
        .map(|i| {
            let mut job = MailJob::new(
                Template::LoginLink,
                Recipient {
                    email: format!("client{i}@example.com"),
                    name: format!("Client {i}"),
                },
                FirmBrand {
                    id: "fm_bench".into(),
                    slug: "acme".into(),
                    name: "Acme Accountants".into(),
                    brand_color: "#0b5fff".into(),
                    portal_url: "https://acme.portal.example".into(),
                },
            );
            job.data = serde_json::json!({
                "link_ttl_days": 7,
                "login_url": "https://acme.portal.example/login",
            });
            job.not_after = Some(portico_shared::now_unix() + 7 * 86_400);
            job.seal(
                keys,
                &LinkSecrets {
                    link: format!(
                        "https://acme.portal.example/auth/magic?token=b1.{}.{}",
                        hex(&random_bytes::<16>()),
                        hex(&random_bytes::<16>())
                    ),
                    code: "ABCD-EFGH".into(),
                },
            );
            job.authenticate(keys, &redis_keys).to_json().to_string()
        })
        .collect()
}

/// Puts `jobs` on `prefix`'s mail stream, 500 to a pipeline.
pub async fn enqueue(redis: &mut RedisConn, prefix: &str, jobs: &[String]) -> Result<()> {
    for chunk in jobs.chunks(500) {
        let mut pipe = redis::pipe();
        for job in chunk {
            pipe.cmd("XADD")
                .arg(RedisKeys::new(prefix).mail_stream())
                .arg("*")
                .arg("job")
                .arg(job)
                .ignore();
        }
        let () = pipe.query_async(redis).await?;
    }
    Ok(())
}

async fn wait_for_port(port: u16) -> Result<()> {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("smtp-sink did not listen on port {port}")
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `smtp-sink` and `smtp-source`, installing the Debian package `postfix` when they are
/// missing (and stopping the mail daemon the package may start: nothing stays on port 25).
pub fn postfix_tools() -> Result<(PathBuf, PathBuf)> {
    let find = |name: &str| {
        ["/usr/sbin", "/usr/bin", "/usr/local/sbin"]
            .iter()
            .map(|dir| Path::new(dir).join(name))
            .find(|p| p.exists())
    };
    if let (Some(sink), Some(source)) = (find("smtp-sink"), find("smtp-source")) {
        return Ok((sink, source));
    }
    if !is_root() {
        bail!(
            "smtp-sink and smtp-source are missing: apt-get install postfix (needs root), then run again"
        );
    }
    eprintln!("bench: installing postfix for smtp-sink and smtp-source…");
    let install = |update: bool| -> Result<bool> {
        if update {
            Command::new("apt-get").args(["update", "-qq"]).status()?;
        }
        Ok(Command::new("apt-get")
            .args(["install", "-y", "-qq", "postfix"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()?
            .success())
    };
    if !install(false)? && !install(true)? {
        bail!("apt-get install postfix failed");
    }
    let _ = Command::new("postfix")
        .arg("stop")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match (find("smtp-sink"), find("smtp-source")) {
        (Some(sink), Some(source)) => Ok((sink, source)),
        _ => bail!("postfix is installed but smtp-sink or smtp-source is not"),
    }
}
