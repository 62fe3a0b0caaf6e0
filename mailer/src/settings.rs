//! The mailer's own settings (`MAILER_*`), read once at start beside the shared
//! [`portico_shared::config::Config`]. Every problem is one line naming the variable, e.g.
//! `MAILER_CONCURRENCY: expected a whole number from 1 to 1024, got "lots"`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use portico_shared::config::ConfigError;
use portico_shared::units::parse_duration;

#[derive(Clone, Debug)]
pub struct Settings {
    /// Sends in flight at once, per mailer.
    pub concurrency: usize,
    /// Attempts (the first one included) before a job that keeps failing transiently is dead.
    pub max_attempts: u32,
    /// A job still failing this long after it was enqueued is dead.
    pub max_age: Duration,
    /// How long a job may sit unacknowledged at another mailer before it is taken over.
    pub claim_idle: Duration,
    /// Bounds connecting to the SMTP server (greeting, EHLO, TLS, login included) and,
    /// separately, each message's transaction.
    pub smtp_timeout: Duration,
    /// First retry delay; doubled per attempt, capped at `backoff_max`, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub metrics_bind: Option<SocketAddr>,
    pub dkim: Option<DkimSettings>,
    /// This mailer's name in the consumer group.
    pub consumer: String,
}

#[derive(Clone, Debug)]
pub struct DkimSettings {
    pub key_file: PathBuf,
    pub selector: String,
    /// Signing domain; `None` means the domain of `MAIL_FROM`.
    pub domain: Option<String>,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let number = |var: &'static str, default: u64, max: u64| -> Result<u64, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        err(
                            var,
                            format!("expected a whole number from 1 to {max}, got {v:?}"),
                        )
                    }),
            }
        };
        let duration = |var: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let value = get(var).unwrap_or_else(|| default.to_string());
            parse_duration(&value).map_err(|m| err(var, format!("{m}, got {value:?}")))
        };

        let concurrency = number("MAILER_CONCURRENCY", 8, 1024)? as usize;
        let max_attempts = number("MAILER_MAX_ATTEMPTS", 25, 1000)? as u32;
        let max_age = duration("MAILER_MAX_AGE", "1d")?;
        let claim_idle = duration("MAILER_CLAIM_IDLE", "2min")?;
        let smtp_timeout = duration("MAILER_SMTP_TIMEOUT", "30s")?;
        let backoff_base = duration("MAILER_BACKOFF_BASE", "1s")?;
        let backoff_max = duration("MAILER_BACKOFF_MAX", "10min")?;
        if claim_idle < smtp_timeout * 2 {
            // A job is given claim_idle / 2 to be sent; a slower send could be taken over
            // (and sent twice) by another mailer while this one is still at it.
            return Err(err(
                "MAILER_CLAIM_IDLE",
                format!(
                    "must be at least twice MAILER_SMTP_TIMEOUT ({:?}), got {:?}",
                    smtp_timeout, claim_idle
                ),
            ));
        }
        if backoff_max < backoff_base {
            return Err(err(
                "MAILER_BACKOFF_MAX",
                "must not be shorter than MAILER_BACKOFF_BASE",
            ));
        }
        let metrics_bind = match get("MAILER_METRICS_BIND") {
            None => None,
            Some(v) => Some(v.trim().parse::<SocketAddr>().map_err(|_| {
                err(
                    "MAILER_METRICS_BIND",
                    format!("expected an address like 127.0.0.1:9101, got {v:?}"),
                )
            })?),
        };
        let dkim = match (get("MAILER_DKIM_KEY_FILE"), get("MAILER_DKIM_SELECTOR")) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(err(
                    "MAILER_DKIM_SELECTOR",
                    "must be set when MAILER_DKIM_KEY_FILE is",
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    "MAILER_DKIM_KEY_FILE",
                    "must be set when MAILER_DKIM_SELECTOR is",
                ));
            }
            (Some(file), Some(selector)) => {
                let selector = selector.trim().to_string();
                if !is_dns_label_list(&selector) {
                    return Err(err(
                        "MAILER_DKIM_SELECTOR",
                        format!("expected a DNS label like mail2026, got {selector:?}"),
                    ));
                }
                let domain = get("MAILER_DKIM_DOMAIN").map(|d| d.trim().to_ascii_lowercase());
                if let Some(d) = &domain
                    && !is_dns_label_list(d)
                {
                    return Err(err(
                        "MAILER_DKIM_DOMAIN",
                        format!("expected a domain like example.com, got {d:?}"),
                    ));
                }
                Some(DkimSettings {
                    key_file: PathBuf::from(file.trim()),
                    selector,
                    domain,
                })
            }
        };
        let consumer = get("MAILER_CONSUMER").unwrap_or_else(|| {
            let host = get("HOSTNAME").unwrap_or_else(|| "mailer".into());
            format!("{host}-{}", std::process::id())
        });
        Ok(Settings {
            concurrency,
            max_attempts,
            max_age,
            claim_idle,
            smtp_timeout,
            backoff_base,
            backoff_max,
            metrics_bind,
            dkim,
            consumer,
        })
    }

    /// The delay before attempt `attempt + 1`, after `attempt` failures: exponential from
    /// `backoff_base`, capped, then "equal jitter" (a random point in the upper half) so that
    /// jobs that failed together do not come back together.
    pub fn backoff(&self, attempt: u32, random: u16) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.backoff_max);
        let half = exp / 2;
        half + half.mul_f64(f64::from(random) / f64::from(u16::MAX))
    }
}

fn is_dns_label_list(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_errors() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.concurrency, 8);
        assert_eq!(s.claim_idle, Duration::from_secs(120));
        for (var, value) in [
            ("MAILER_CONCURRENCY", "lots"),
            ("MAILER_CONCURRENCY", "0"),
            ("MAILER_MAX_ATTEMPTS", "-1"),
            ("MAILER_MAX_AGE", "forever"),
            ("MAILER_CLAIM_IDLE", "1s"),
            ("MAILER_METRICS_BIND", "everywhere"),
        ] {
            let e = settings(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var, "{e}");
            assert!(!e.to_string().contains('\n'));
        }
        let e = settings(&[("MAILER_DKIM_KEY_FILE", "/k")]).unwrap_err();
        assert_eq!(e.var, "MAILER_DKIM_SELECTOR");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let s = settings(&[("MAILER_BACKOFF_BASE", "1s"), ("MAILER_BACKOFF_MAX", "8s")]).unwrap();
        assert_eq!(s.backoff(1, u16::MAX), Duration::from_secs(1));
        assert_eq!(s.backoff(1, 0), Duration::from_millis(500));
        assert_eq!(s.backoff(3, u16::MAX), Duration::from_secs(4));
        assert_eq!(s.backoff(30, u16::MAX), Duration::from_secs(8));
    }
}
