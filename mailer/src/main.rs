//! `mailer`: drains the mail stream and delivers each job, over SMTP or into `var/outbox/`.
//! `mailer requeue-dead` puts dead-lettered jobs back; `mailer status` prints the queue.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use portico_shared::config::{Config, redact_url};
use portico_shared::redis_conn::RedisKeys;

use portico_mailer::compose::Composer;
use portico_mailer::deliver::Delivery;
use portico_mailer::metrics::Metrics;
use portico_mailer::queue::Queue;
use portico_mailer::settings::Settings;
use portico_mailer::worker::Worker;

/// mimalloc rather than the system allocator: composing a mail allocates and frees many small
/// strings, where glibc's malloc took about a tenth of the mailer's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "mailer", version, about = "Portico mail worker")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Clone, Copy)]
enum Command {
    /// Deliver jobs from the mail stream (the default).
    Run,
    /// Put every dead-lettered job back on the mail stream, as a fresh job.
    RequeueDead,
    /// Print the queue: waiting, being sent, waiting to retry, dead.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, settings) = match Config::from_env().and_then(|c| Ok((c, Settings::from_env()?))) {
        Ok(both) => both,
        Err(e) => {
            eprintln!("mailer: {e}");
            return ExitCode::from(2);
        }
    };
    let log_flush = portico_shared::logging::init(config.log_format);
    // One thread: a mailer waits on sockets far more than it computes (about 55-90 µs of CPU
    // per mail at full speed, measured with mailer_bench), and on one thread its
    // tasks wake each other without crossing threads. More throughput comes from more
    // mailers on the stream.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("async runtime");
    let command = cli.command.unwrap_or(Command::Run);
    let outcome = runtime.block_on(run(command, config, settings));
    drop(runtime);
    // The last log lines come out before the closing error line.
    drop(log_flush);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed::Config(e)) => {
            eprintln!("mailer: {e}");
            ExitCode::from(2)
        }
        Err(Failed::Other(e)) => {
            eprintln!("mailer: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

enum Failed {
    Config(portico_shared::config::ConfigError),
    Other(anyhow::Error),
}

impl From<portico_shared::config::ConfigError> for Failed {
    fn from(e: portico_shared::config::ConfigError) -> Failed {
        Failed::Config(e)
    }
}

impl From<anyhow::Error> for Failed {
    fn from(e: anyhow::Error) -> Failed {
        Failed::Other(e)
    }
}

async fn run(command: Command, config: Config, settings: Settings) -> Result<(), Failed> {
    let keys = RedisKeys::new(&config.redis_prefix);
    match command {
        Command::Run => serve(config, settings, keys).await,
        Command::RequeueDead => {
            let queue = connect_once(&config, &settings, keys).await?;
            let moved = queue.requeue_dead().await.map_err(anyhow::Error::from)?;
            println!("requeued {moved} dead-lettered job(s)");
            Ok(())
        }
        Command::Status => {
            let queue = connect_once(&config, &settings, keys).await?;
            let s = queue.status().await.map_err(anyhow::Error::from)?;
            println!(
                "queued: {}\npending: {}\nretrying: {}\ndead: {}",
                s.queued, s.pending, s.retrying, s.dead
            );
            Ok(())
        }
    }
}

async fn connect_once(
    config: &Config,
    settings: &Settings,
    keys: RedisKeys,
) -> Result<Queue, Failed> {
    Queue::connect(
        &config.redis,
        keys,
        settings.consumer.clone(),
        settings.claim_idle,
    )
    .await
    .map_err(|e| {
        Failed::Other(anyhow::anyhow!(
            "{}: cannot connect to {}: {e}",
            config.redis.variable(),
            config.redis.describe()
        ))
    })
}

async fn serve(config: Config, settings: Settings, keys: RedisKeys) -> Result<(), Failed> {
    let composer = Composer::new(&config.mail_from, settings.dkim.as_ref())?;
    composer.self_check()?;
    let delivery = match &config.smtp_url {
        Some(url) => Delivery::smtp(url, settings.smtp_timeout)?,
        None => {
            let dir = config.data_dir.join("outbox");
            let delivery = Delivery::outbox(dir.clone())?;
            tracing::info!(outbox = %dir.display(), "no SMTP_URL: writing mail to the outbox and printing sign-in links");
            delivery
        }
    };
    let metrics = Arc::new(Metrics::new());
    if let Some(bind) = settings.metrics_bind {
        portico_mailer::metrics::serve(bind, metrics.clone())
            .await
            .map_err(|e| {
                Failed::Config(portico_shared::config::ConfigError {
                    var: "MAILER_METRICS_BIND",
                    message: format!("cannot listen on {bind}: {e}"),
                })
            })?;
    }

    let stop = shutdown_signal();
    tokio::pin!(stop);
    // Redis may not be up yet: wait for it (saying so once) rather than exit.
    let mut logged = false;
    let queue = loop {
        match Queue::connect(
            &config.redis,
            keys.clone(),
            settings.consumer.clone(),
            settings.claim_idle,
        )
        .await
        {
            Ok(queue) => break queue,
            Err(e) => {
                metrics.redis_errors.inc();
                if !logged {
                    tracing::warn!(redis = %config.redis.describe(), error = %e, "Redis unreachable; retrying until it answers");
                    logged = true;
                }
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let persistence = queue.persistence().await;
    persistence.log();
    metrics.redis_persistence.set(persistence.gauge());
    tracing::info!(
        consumer = queue.consumer(),
        concurrency = settings.concurrency,
        smtp = %config.smtp_url.as_deref().map(redact_url).unwrap_or_else(|| "outbox".into()),
        dkim = settings.dkim.is_some(),
        "mailer started"
    );
    let worker = Arc::new(Worker::new(
        queue,
        composer,
        config.signing_keys.clone(),
        delivery,
        settings,
        metrics,
    ));
    worker.run(stop).await;
    Ok(())
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
}
