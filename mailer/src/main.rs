//! `mailer`: drains the mail stream and delivers each job, over SMTP or into `var/outbox/`.
//! `mailer requeue-dead` puts dead-lettered jobs back; `mailer status` prints the queue.
#![forbid(unsafe_code)]

mod compose;
mod queue;
mod worker;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use portico_shared::config::{Config, LogFormat, redact_url};
use portico_shared::mail::{CONSUMER_GROUP, JOB_FIELD};
use portico_shared::redis_conn::{self, RedisKeys};
use redis::AsyncCommands;

use crate::compose::Composer;
use crate::queue::Queue;
use crate::worker::{Delivery, Worker};

#[derive(Parser)]
#[command(name = "mailer", version, about = "Portico mail worker")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Deliver jobs from the mail stream (the default).
    Run,
    /// Put every dead-lettered job back on the mail stream.
    RequeueDead,
    /// Print queue depth, pending and dead counts.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mailer: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
    let runtime = tokio::runtime::Runtime::new().expect("async runtime");
    match runtime.block_on(run(cli.command.unwrap_or(Command::Run), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailer: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let redis = redis_conn::connect(&config.redis_url).await.map_err(|e| {
        anyhow::anyhow!(
            "REDIS_URL: cannot connect to {}: {e}",
            redact_url(&config.redis_url)
        )
    })?;
    let keys = RedisKeys::new(&config.redis_prefix);
    match command {
        Command::Run => {
            let composer = Composer::new(&config.mail_from)?;
            let delivery = match &config.smtp_url {
                Some(url) => Delivery::Smtp(
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                        .map_err(|e| anyhow::anyhow!("SMTP_URL: {e}, got {:?}", redact_url(url)))?
                        .timeout(Some(Duration::from_secs(30)))
                        .build(),
                ),
                None => {
                    let dir = config.data_dir.join("outbox");
                    std::fs::create_dir_all(&dir).map_err(|e| {
                        anyhow::anyhow!("PORTICO_DATA_DIR: cannot create {}: {e}", dir.display())
                    })?;
                    tracing::info!(outbox = %dir.display(), "no SMTP_URL: writing mail to the outbox and printing sign-in links");
                    Delivery::Outbox(dir)
                }
            };
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "mailer".into());
            let queue = Queue {
                redis,
                keys,
                consumer: format!("{host}-{}", std::process::id()),
            };
            let mut worker = Worker::new(queue, composer, config.signing_keys.clone(), delivery);
            tracing::info!("mailer started");
            worker.run(shutdown_signal()).await;
            Ok(())
        }
        Command::RequeueDead => {
            let mut redis = redis;
            let reply: redis::streams::StreamRangeReply =
                redis.xrange_all(keys.mail_dead()).await?;
            let mut moved = 0;
            for entry in reply.ids {
                let job: String = entry.get(JOB_FIELD).unwrap_or_default();
                let () = redis::pipe()
                    .atomic()
                    .xadd(keys.mail_stream(), "*", &[(JOB_FIELD, job)])
                    .ignore()
                    .xdel(keys.mail_dead(), &[&entry.id])
                    .ignore()
                    .query_async(&mut redis)
                    .await?;
                moved += 1;
            }
            println!("requeued {moved} dead-lettered job(s)");
            Ok(())
        }
        Command::Status => {
            let mut redis = redis;
            let depth: i64 = redis.xlen(keys.mail_stream()).await?;
            let dead: i64 = redis.xlen(keys.mail_dead()).await?;
            let pending: redis::RedisResult<redis::streams::StreamPendingReply> =
                redis.xpending(keys.mail_stream(), CONSUMER_GROUP).await;
            let pending = pending.map(|p| p.count()).unwrap_or(0);
            println!("queued: {depth}\npending (being sent or retried): {pending}\ndead: {dead}");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
    tracing::info!("stopping: finishing the job in hand");
}
