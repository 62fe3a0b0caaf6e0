//! Handing a message over: to the SMTP server of `SMTP_URL`, or, when it is unset, into
//! `{data dir}/outbox/{job id}.eml`.
//!
//! SMTP uses lettre's connection type under a small pool of our own rather than lettre's
//! transport, for two reasons:
//! - lettre writes a message and its final `.` in two writes and does not set `TCP_NODELAY`,
//!   so Nagle's algorithm holds the `.` until the server's delayed ACK (40 ms on Linux): 25
//!   mails/s per connection at best. Our connections set it.
//! - lettre sends `MAIL`, `RCPT` and `DATA` one round trip each. Where the server offers
//!   PIPELINING (RFC 2920; every common MTA does), we send the three in one write and read
//!   their replies after: two round trips per message instead of four, which roughly halves
//!   the system calls on both ends. The message and its final dot then go in one write too,
//!   dot-stuffed a line at a time rather than lettre's byte at a time (`DataBody`).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::Message;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use portico_shared::config::{ConfigError, redact_url};

pub enum Delivery {
    Smtp(Smtp),
    /// No `SMTP_URL`: `.eml` files in this folder (and sign-in links in the log).
    Outbox(PathBuf),
}

/// Why a send did not go through.
#[derive(Debug)]
pub enum Failure {
    /// The server refused this message for good (a 5xx reply to MAIL, RCPT or DATA).
    Permanent(String),
    /// Connection refused or lost, a timeout, a 4xx reply, a failed greeting, TLS or login:
    /// try again later.
    Transient(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    Plain,
    /// STARTTLS; when `required`, a server that does not offer it is not used.
    StartTls {
        required: bool,
    },
    /// TLS from the first byte (`smtps://`, usually port 465).
    Wrapper,
}

pub struct Smtp {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// Bounds connecting (greeting, EHLO, TLS, login) and, separately, each message.
    timeout: Duration,
    idle: Mutex<Vec<(Connection, Instant)>>,
}

/// A connection ready for mail, and whether its server takes pipelined commands.
struct Connection {
    smtp: AsyncSmtpConnection,
    pipelining: bool,
}

/// An idle connection older than this is dropped rather than reused.
const IDLE_MAX: Duration = Duration::from_secs(30);
/// An idle connection older than this is checked with a NOOP before it is reused.
const IDLE_CHECK: Duration = Duration::from_secs(2);

impl Delivery {
    /// `smtp://host[:25]` (`?tls=required` or `?tls=opportunistic` for STARTTLS, port 587 by
    /// default then), `smtps://host[:465]`; a user and password in the URL authenticate; a
    /// path names the EHLO host.
    pub fn smtp(url: &str, timeout: Duration) -> Result<Delivery, ConfigError> {
        let bad = |message: String| ConfigError {
            var: "SMTP_URL",
            message: format!("{message}, got {:?}", redact_url(url)),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| bad("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
            ("smtps", None) => (Security::Wrapper, 465),
            _ => {
                return Err(bad(
                    "expected smtp://host:port (?tls=required or ?tls=opportunistic for STARTTLS) or smtps://user:pass@host".into(),
                ));
            }
        };
        let credentials = match parsed.password() {
            Some(password) => Some(Credentials::new(
                percent_decode(parsed.username()).ok_or_else(|| bad("bad user".into()))?,
                percent_decode(password).ok_or_else(|| bad("bad password".into()))?,
            )),
            None if !parsed.username().is_empty() => {
                return Err(bad("a user needs a password".into()));
            }
            None => None,
        };
        let hello = match parsed.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        Ok(Delivery::Smtp(Smtp {
            port: parsed.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            hello,
            timeout,
            idle: Mutex::default(),
        }))
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
            Delivery::Smtp(smtp) => smtp.send(message).await,
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

    /// Says goodbye on idle connections.
    pub async fn close(&self) {
        if let Delivery::Smtp(smtp) = self {
            let idle: Vec<_> = std::mem::take(&mut *smtp.idle.lock().expect("lock"));
            for (mut conn, _) in idle {
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.smtp.quit()).await;
            }
        }
    }
}

impl Smtp {
    async fn send(&self, message: &Message) -> Result<(), Failure> {
        let mut conn = match self.take_idle().await {
            Some(conn) => conn,
            None => tokio::time::timeout(self.timeout, self.connect())
                .await
                .map_err(|_| {
                    Failure::Transient(format!(
                        "connecting to {}:{} timed out after {:?}",
                        self.host, self.port, self.timeout
                    ))
                })??,
        };
        let bytes = message.formatted();
        match tokio::time::timeout(self.timeout, conn.transfer(message.envelope(), &bytes)).await {
            Ok(Ok(_accepted)) => {
                self.idle.lock().expect("lock").push((conn, Instant::now()));
                Ok(())
            }
            // The connection is dropped: after a failure its state is unknown.
            Ok(Err(e)) if e.is_permanent() => Err(Failure::Permanent(format!("SMTP refused: {e}"))),
            Ok(Err(e)) => Err(Failure::Transient(format!("SMTP: {}", error_chain(&e)))),
            Err(_) => Err(Failure::Transient(format!(
                "SMTP: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// The most recently used idle connection that still works, if any.
    async fn take_idle(&self) -> Option<Connection> {
        loop {
            let (mut conn, since) = self.idle.lock().expect("lock").pop()?;
            let idle = since.elapsed();
            if idle > IDLE_MAX || conn.smtp.has_broken() {
                continue;
            }
            if idle > IDLE_CHECK
                && !tokio::time::timeout(self.timeout, conn.smtp.test_connected())
                    .await
                    .unwrap_or(false)
            {
                continue;
            }
            return Some(conn);
        }
    }

    /// A new connection, greeted, encrypted as configured and logged in. Any failure here is
    /// the server's or the configuration's, never the message's: transient.
    async fn connect(&self) -> Result<Connection, Failure> {
        let transient = |e: &dyn std::error::Error| {
            Failure::Transient(format!(
                "connecting to {}:{}: {}",
                self.host,
                self.port,
                error_chain(e)
            ))
        };
        let tls = || TlsParameters::new(self.host.clone()).map_err(|e| transient(&e));
        let mut conn = if self.security == Security::Wrapper {
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                Some(tls()?),
                None,
            )
            .await
            .map_err(|e| transient(&e))?
        } else {
            let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| transient(&e))?;
            tcp.set_nodelay(true).map_err(|e| transient(&e))?;
            let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                .await
                .map_err(|e| transient(&e))?;
            if let Security::StartTls { required } = self.security {
                if conn.can_starttls() {
                    conn.starttls(tls()?, &self.hello)
                        .await
                        .map_err(|e| transient(&e))?;
                } else if required {
                    return Err(Failure::Transient(format!(
                        "{}:{} does not offer STARTTLS, and SMTP_URL requires it",
                        self.host, self.port
                    )));
                }
            }
            conn
        };
        // lettre keeps only the EHLO keywords it uses itself, so ask again for PIPELINING. A
        // repeated EHLO is allowed at any time and resets nothing but the mail transaction.
        let ehlo = conn
            .command(Ehlo::new(self.hello.clone()))
            .await
            .map_err(|e| transient(&e))?;
        let pipelining = ehlo.message().skip(1).any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|keyword| keyword.eq_ignore_ascii_case("PIPELINING"))
        });
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| transient(&e))?;
        }
        Ok(Connection {
            smtp: conn,
            pipelining,
        })
    }
}

impl Connection {
    /// One mail transaction; `Ok` is the server's acceptance of the message. After an error
    /// the connection must be dropped.
    async fn transfer(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error> {
        let ascii_addresses = envelope.from().into_iter().chain(envelope.to()).all(|a| {
            let address: &str = a.as_ref();
            address.is_ascii()
        });
        let eight_bit = !message.is_ascii();
        let server = self.smtp.server_info();
        // The unusual cases (SMTPUTF8, 8-bit text to a server without 8BITMIME) go through
        // lettre's own sequence, which checks and refuses them as it should.
        if !self.pipelining
            || !ascii_addresses
            || (eight_bit && !server.supports_feature(Extension::EightBitMime))
        {
            return self.smtp.send(envelope, message).await;
        }
        let body = eight_bit.then_some(MailParameter::Body(MailBodyParameter::EightBitMime));
        let commands = Pipelined {
            mail: Mail::new(envelope.from().cloned(), body.into_iter().collect()),
            recipients: envelope
                .to()
                .iter()
                .map(|to| Rcpt::new(to.clone(), Vec::new()))
                .collect(),
        };
        // The replies come in order: MAIL's, each RCPT's, then DATA's 354. The first refusal
        // ends the transaction (a server refuses DATA when no recipient was taken).
        self.smtp.command(&commands).await?;
        for _ in &commands.recipients {
            self.smtp.read_response().await?;
        }
        self.smtp.read_response().await?;
        match std::str::from_utf8(message) {
            // The body and its final dot in one write, dot-stuffed as lettre would.
            Ok(text) => self.smtp.command(DataBody(text)).await,
            Err(_) => self.smtp.message(message).await,
        }
    }
}

/// A message's text with each line that starts with `.` given a second one (RFC 5321
/// §4.5.2), then the closing `CRLF.CRLF`.
struct DataBody<'a>(&'a str);

impl std::fmt::Display for DataBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        if rest.starts_with('.') {
            f.write_str(".")?;
        }
        while let Some(at) = rest.find("\r\n.") {
            f.write_str(&rest[..at + 2])?;
            f.write_str(".")?;
            rest = &rest[at + 2..];
        }
        f.write_str(rest)?;
        f.write_str("\r\n.\r\n")
    }
}

/// `MAIL`, `RCPT`… and `DATA` as one write.
struct Pipelined {
    mail: Mail,
    recipients: Vec<Rcpt>,
}

impl std::fmt::Display for Pipelined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.mail)?;
        for rcpt in &self.recipients {
            write!(f, "{rcpt}")?;
        }
        write!(f, "{Data}")
    }
}

fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let Delivery::Smtp(s) = Delivery::smtp(
            "smtps://me%40x.com:p%2Fw@mail.example.com",
            Duration::from_secs(1),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("mail.example.com", 465, Security::Wrapper)
        );
        assert!(s.credentials.is_some());
        let Delivery::Smtp(s) = Delivery::smtp(
            "smtp://mail.example.com?tls=required",
            Duration::from_secs(1),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (s.port, s.security),
            (587, Security::StartTls { required: true })
        );
        assert!(Delivery::smtp("smtp://h?tls=maybe", Duration::from_secs(1)).is_err());
        assert_eq!(percent_decode("p%2Fw"), Some("p/w".into()));
    }

    #[test]
    fn data_body_stuffs_dots_at_line_starts_only() {
        let body = |text| DataBody(text).to_string();
        assert_eq!(body("a\r\nb"), "a\r\nb\r\n.\r\n");
        assert_eq!(
            body(".a\r\n..b\r\nc.d\r\n.\r\n\r\n."),
            "..a\r\n...b\r\nc.d\r\n..\r\n\r\n..\r\n.\r\n"
        );
        // A dot after a bare LF is not at a line start in SMTP's sense (lettre agrees).
        assert_eq!(body("a\n.b"), "a\n.b\r\n.\r\n");
        assert_eq!(body(""), "\r\n.\r\n");
    }
}
