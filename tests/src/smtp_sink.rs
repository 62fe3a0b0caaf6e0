//! A small SMTP server for tests: speaks real SMTP over TCP on a random port and records every
//! message it accepts. It offers PIPELINING, as every common MTA does, unless started
//! [`SmtpSink::without_pipelining`]. On demand it refuses connections (nothing listens on its
//! port), answers `RCPT TO` with a 550 or a 451, or takes its time before accepting a message.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Accept,
    /// `550` to every `RCPT TO`: a permanent failure.
    Reject,
    /// `451` to every `RCPT TO`: try again later.
    TempFail,
}

/// A message as received: the DATA, dot-unstuffed, with CRLF line ends.
#[derive(Clone, Debug)]
pub struct Received {
    pub raw: String,
    pub mail_from: String,
    pub rcpt_to: String,
}

impl Received {
    /// The first value of a header (unfolded), e.g. `header("Message-ID")`.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim_start().to_string());
            }
        }
        value
    }

    pub fn message_id(&self) -> String {
        self.header("Message-ID").unwrap_or_default()
    }
}

struct Inner {
    port: u16,
    messages: Mutex<Vec<Received>>,
    mode: Mutex<Mode>,
    /// Delay before the reply to the end of DATA (the message is recorded before it).
    accept_delay_ms: AtomicU64,
    refusing: AtomicBool,
    listener: Mutex<Option<JoinHandle<()>>>,
    connections: AtomicUsize,
    pipelining: bool,
    /// `MAIL` and `RCPT` commands read while the client's next command had already arrived.
    sent_ahead: AtomicUsize,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    inner: Arc<Inner>,
}

impl SmtpSink {
    /// A sink that accepts connections and mail.
    pub async fn start() -> SmtpSink {
        let sink = SmtpSink::start_refusing().await;
        sink.accept_connections();
        sink
    }

    /// A sink whose EHLO reply does not offer PIPELINING: a client must wait for each reply.
    pub async fn without_pipelining() -> SmtpSink {
        let sink = SmtpSink::new(false);
        sink.accept_connections();
        sink
    }

    /// A sink on a port of its own where nothing listens yet: connections are refused until
    /// [`SmtpSink::accept_connections`].
    pub async fn start_refusing() -> SmtpSink {
        SmtpSink::new(true)
    }

    fn new(pipelining: bool) -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        SmtpSink {
            port,
            inner: Arc::new(Inner {
                port,
                messages: Mutex::default(),
                mode: Mutex::new(Mode::Accept),
                accept_delay_ms: AtomicU64::new(0),
                refusing: AtomicBool::new(true),
                listener: Mutex::default(),
                connections: AtomicUsize::new(0),
                pipelining,
                sent_ahead: AtomicUsize::new(0),
            }),
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Listens (again) on the sink's port.
    pub fn accept_connections(&self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket
            .bind(([127, 0, 0, 1], self.inner.port).into())
            .expect("bind the sink's port again");
        let listener = socket.listen(1024).expect("listen");
        self.inner.refusing.store(false, Ordering::SeqCst);
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                inner.connections.fetch_add(1, Ordering::SeqCst);
                let inner = inner.clone();
                tokio::spawn(async move {
                    let _ = serve(&inner, stream).await;
                });
            }
        });
        if let Some(old) = self.inner.listener.lock().unwrap().replace(task) {
            old.abort();
        }
    }

    /// Stops listening (new connections are refused) and closes open sessions.
    pub fn refuse_connections(&self) {
        self.inner.refusing.store(true, Ordering::SeqCst);
        if let Some(task) = self.inner.listener.lock().unwrap().take() {
            task.abort();
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = mode;
    }

    /// Waits this long before answering the end of a message's DATA.
    pub fn set_accept_delay(&self, delay: Duration) {
        self.inner
            .accept_delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn messages(&self) -> Vec<Received> {
        self.inner.messages.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.inner.messages.lock().unwrap().len()
    }

    /// `MAIL` and `RCPT` commands that the client sent before reading the previous reply: more
    /// than none means it pipelines.
    pub fn commands_sent_ahead(&self) -> usize {
        self.inner.sent_ahead.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::SeqCst)
    }

    /// Waits up to `timeout` until `count` messages have arrived; panics if they do not.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "expected {count} messages within {timeout:?}, got {}",
                    messages.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn serve(inner: &Inner, stream: TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut mail_from = String::new();
    let mut rcpt_to = String::new();
    let ehlo: &[u8] = if inner.pipelining {
        b"250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
    } else {
        b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
    };
    while let Some(line) = lines.next_line().await? {
        if inner.refusing.load(Ordering::SeqCst) {
            write.write_all(b"421 4.3.2 shutting down\r\n").await?;
            return Ok(());
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let mode = *inner.mode.lock().unwrap();
        if matches!(verb.as_str(), "MAIL" | "RCPT") && !lines.get_ref().buffer().is_empty() {
            inner.sent_ahead.fetch_add(1, Ordering::SeqCst);
        }
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => ehlo,
            "MAIL" => {
                mail_from = argument(&line);
                rcpt_to.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RSET" => {
                rcpt_to.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "RCPT" if mode == Mode::Reject => b"550 5.1.1 no such mailbox here\r\n",
            "RCPT" if mode == Mode::TempFail => b"451 4.3.0 try again later\r\n",
            "RCPT" => {
                rcpt_to = argument(&line);
                b"250 2.1.5 OK\r\n"
            }
            // As RFC 2920 asks: a pipelining client learns here that nothing is to be sent.
            "DATA" if rcpt_to.is_empty() => b"554 5.5.1 no valid recipients\r\n",
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut raw = String::new();
                let mut ended = false;
                while let Some(data) = lines.next_line().await? {
                    if data == "." {
                        ended = true;
                        break;
                    }
                    raw.push_str(data.strip_prefix('.').unwrap_or(&data));
                    raw.push_str("\r\n");
                }
                if !ended {
                    // The client went away in the middle: nothing was accepted.
                    return Ok(());
                }
                inner.messages.lock().unwrap().push(Received {
                    raw,
                    mail_from: mail_from.clone(),
                    rcpt_to: rcpt_to.clone(),
                });
                let delay = inner.accept_delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                b"250 2.0.0 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// `<a@b>` of `MAIL FROM:<a@b> SIZE=10` or `RCPT TO:<a@b>`.
fn argument(line: &str) -> String {
    let rest = line.split_once(':').map_or("", |(_, r)| r).trim();
    rest.split_whitespace().next().unwrap_or("").to_string()
}
