//! Handing a message over: to the SMTP server of `SMTP_URL` (lettre, pooled connections,
//! timeouts), or, when it is unset, into `{data dir}/outbox/{job id}.eml`.

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portico_shared::config::{ConfigError, redact_url};

pub enum Delivery {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// No `SMTP_URL`: `.eml` files in this folder (and sign-in links in the log).
    Outbox(PathBuf),
}

/// Why a send did not go through.
#[derive(Debug)]
pub enum Failure {
    /// The server refused the message for good (a 5xx reply): retrying will not help.
    Permanent(String),
    /// Connection refused or lost, a timeout, a 4xx reply: try again later.
    Transient(String),
}

impl Delivery {
    /// `smtp://host:port` (add `?tls=required` or `?tls=opportunistic` for STARTTLS),
    /// `smtps://user:pass@host`; user and password authenticate.
    pub fn smtp(url: &str, timeout: Duration, pool_size: usize) -> Result<Delivery, ConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| ConfigError {
                var: "SMTP_URL",
                message: format!("{e}, got {:?}", redact_url(url)),
            })?
            .timeout(Some(timeout))
            .pool_config(
                PoolConfig::new()
                    .max_size(pool_size as u32)
                    .idle_timeout(Duration::from_secs(30)),
            )
            .build();
        Ok(Delivery::Smtp(transport))
    }

    pub fn outbox(dir: PathBuf) -> Result<Delivery, ConfigError> {
        std::fs::create_dir_all(&dir).map_err(|e| ConfigError {
            var: "PORTICO_DATA_DIR",
            message: format!("cannot create {}: {e}", dir.display()),
        })?;
        Ok(Delivery::Outbox(dir))
    }

    /// Sends one message; `Ok` means the server accepted it (or the file is written).
    pub async fn send(&self, job_id: &str, message: &Message) -> Result<(), Failure> {
        match self {
            Delivery::Smtp(transport) => {
                transport
                    .send(message.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        if e.is_permanent() {
                            Failure::Permanent(format!("SMTP refused: {e}"))
                        } else {
                            Failure::Transient(format!("SMTP: {}", error_chain(&e)))
                        }
                    })
            }
            Delivery::Outbox(dir) => {
                // Write aside, then rename: a reader never sees half a message.
                let path = dir.join(format!("{job_id}.eml"));
                let partial = dir.join(format!(".{job_id}.eml.partial"));
                let write = async {
                    tokio::fs::write(&partial, message.formatted()).await?;
                    tokio::fs::rename(&partial, &path).await
                };
                write
                    .await
                    .map_err(|e| Failure::Transient(format!("writing {}: {e}", path.display())))
            }
        }
    }
}

/// "Connection error: Connection refused (os error 111)" rather than "Connection error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut chain = e.source();
    while let Some(cause) = chain {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        chain = cause.source();
    }
    parts.join(": ")
}
