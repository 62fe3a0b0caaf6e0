//! Redis: connecting to whichever topology the configuration chose ([`RedisConn`]), and the
//! names of every key the system writes ([`RedisKeys`]), under one prefix so that several
//! installations (or test runs) can share a server without touching each other's data.
//!
//! ## Hash tags
//! On a Redis Cluster every command or script must keep its keys in one hash slot, and the
//! slot of a key is that of the part between its first `{` and the next `}` (its tag), when
//! there is one. So every key here carries a tag that says what it lives with:
//!
//! - the mail queue (stream, retry set, dead-letter stream, "sent" markers) shares `{mail}`,
//!   so the mailer's scripts and `MULTI`s that move a job between them stay atomic;
//! - a session, a link, a handover, a "latest link" pointer is tagged by its own hash or id,
//!   and the two counters of a sign-in request by the firm and address they count;
//!
//! so no tag is common to all keys, and sessions and links spread over every primary. The
//! prefix may not contain braces (`PORTICO_REDIS_PREFIX` is refused at start), so the tags
//! are always Portico's own. On a single server or under Sentinel the tags change nothing.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use crate::config::{RedisTopology, ReplicaWait};
use crate::ids::{ContactId, FirmId};

#[derive(Clone, Debug)]
pub struct RedisKeys {
    prefix: String,
}

impl RedisKeys {
    pub fn new(prefix: &str) -> RedisKeys {
        RedisKeys {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A live magic link, by keyed hash of its nonce.
    pub fn link(&self, lookup: &str) -> String {
        format!("{}link:{{{lookup}}}", self.prefix)
    }

    /// The current invitation of a contact (its link's lookup), so a new one replaces it.
    pub fn invitation(&self, contact_id: &ContactId) -> String {
        self.latest_link("invitation", contact_id.as_str())
    }

    /// The lookup of the latest link of one `kind` (`latest-login`, `latest-staff-login`,
    /// `latest-email-change`, `invitation`) for one subject, so that a new link voids it.
    pub fn latest_link(&self, kind: &str, subject: &str) -> String {
        format!("{}{kind}:{{{subject}}}", self.prefix)
    }

    /// A session, by keyed hash of its cookie value.
    pub fn session(&self, hash: &str) -> String {
        format!("{}session:{{{hash}}}", self.prefix)
    }

    pub fn staff_session(&self, hash: &str) -> String {
        format!("{}staff-session:{{{hash}}}", self.prefix)
    }

    /// A company-switch handover, by keyed hash of its token.
    pub fn handover(&self, hash: &str) -> String {
        format!("{}handover:{{{hash}}}", self.prefix)
    }

    /// The counter of links asked for one address of a firm from one network (the hash is
    /// keyed over both). Tagged like [`email_mails_today`](Self::email_mails_today) of the same
    /// address, since one script counts both.
    pub fn email_rate(&self, firm_id: &FirmId, email_hash: &str, asker_hash: &str) -> String {
        format!(
            "{}rate:email:{{{firm_id}:{email_hash}}}:{asker_hash}",
            self.prefix
        )
    }

    /// The counter of sign-in mails sent to one address of a firm in the last day.
    pub fn email_mails_today(&self, firm_id: &FirmId, email_hash: &str) -> String {
        format!("{}rate:mails:{{{firm_id}:{email_hash}}}", self.prefix)
    }

    /// As [`email_rate`](Self::email_rate), for staff sign-in.
    pub fn staff_email_rate(&self, firm_id: &FirmId, email_hash: &str, asker_hash: &str) -> String {
        format!(
            "{}rate:staff-email:{{staff:{firm_id}:{email_hash}}}:{asker_hash}",
            self.prefix
        )
    }

    /// As [`email_mails_today`](Self::email_mails_today), for staff sign-in mails.
    pub fn staff_email_mails_today(&self, firm_id: &FirmId, email_hash: &str) -> String {
        format!(
            "{}rate:staff-mails:{{staff:{firm_id}:{email_hash}}}",
            self.prefix
        )
    }

    /// The counter of uploads one contact of a firm made in the current window.
    pub fn upload_rate(&self, firm_id: &FirmId, contact_id: &ContactId) -> String {
        format!("{}rate:upload:{{{firm_id}:{contact_id}}}", self.prefix)
    }

    /// The mail queue's stream (see `mailer/src/queue.rs`).
    pub fn mail_stream(&self) -> String {
        format!("{}{{mail}}:jobs", self.prefix)
    }

    pub fn mail_dead(&self) -> String {
        format!("{}{{mail}}:dead", self.prefix)
    }

    pub fn mail_retry(&self) -> String {
        format!("{}{{mail}}:retry", self.prefix)
    }

    /// Written once the mail server accepted the job `job_id`.
    pub fn mail_sent(&self, job_id: &str) -> String {
        format!("{}{{mail}}:sent:{job_id}", self.prefix)
    }

    /// Any other key of this installation, by name: it must hold no braces, or hold a tag
    /// that keeps it with what it is used with.
    pub fn other(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// Short timeouts, so a Redis outage turns into quick errors (and 503 pages) rather than hung
/// requests.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// A cluster request, with its retries (MOVED, TRYAGAIN, a failover under way), gives up
/// after this.
const CLUSTER_REQUEST_TIMEOUT: Duration = Duration::from_secs(4);
/// How long finding the master through the sentinels may take.
const SENTINEL_RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection to the installation's Redis, whichever the topology: one server (a
/// `ConnectionManager`, which reconnects by itself), a Redis Cluster (the crate's own
/// `cluster_async` connection, which follows slots as they move and replicas as they are
/// promoted) or a master found through Sentinel (see [`SentinelConn`]). Cheap to clone; clones
/// share the same underlying connections, which multiplex commands, so a command that blocks
/// the server's answer (`XREADGROUP … BLOCK`) holds up every clone: give such commands a
/// `RedisConn` of their own ([`RedisConn::connect`] again).
#[derive(Clone)]
pub struct RedisConn {
    topology: Topology,
    /// Set when writes are to be acknowledged by replicas (see [`RedisConn::replicated`]).
    fence: Option<Arc<Fence>>,
}

#[derive(Clone)]
enum Topology {
    Single {
        main: ConnectionManager,
        /// The connection that waits for replicas, when writes are acknowledged.
        lane: Option<ConnectionManager>,
    },
    Cluster(ClusterConnection),
    Sentinel(SentinelConn),
}

/// What [`RedisConn::replicated`] waits for, and the key it writes to mark how far to wait.
struct Fence {
    wait: ReplicaWait,
    key: String,
}

/// Where a request's writes begin ([`RedisConn::mark`]), to hand to [`RedisConn::replicated`]
/// after them: under Sentinel, which master the writes went to.
#[derive(Clone, Copy, Debug)]
pub struct WriteMark(u64);

impl RedisConn {
    /// Connects to `topology`; each call makes connections of its own.
    pub async fn connect(topology: &RedisTopology) -> RedisResult<RedisConn> {
        RedisConn::connect_acknowledged(topology, None).await
    }

    /// As [`connect`](Self::connect); with `wait` (the setting and a key to write, under the
    /// installation's prefix), [`replicated`](Self::replicated) waits for replicas.
    pub async fn connect_acknowledged(
        topology: &RedisTopology,
        wait: Option<(ReplicaWait, String)>,
    ) -> RedisResult<RedisConn> {
        let lane = wait.is_some();
        let topology = match topology {
            RedisTopology::Single(url) => {
                let (main, lane) = main_and_lane(redis::Client::open(url.as_str())?, lane).await?;
                Topology::Single { main, lane }
            }
            RedisTopology::Cluster(_) if lane => {
                return Err(RedisError::from((
                    ErrorKind::InvalidClientConfig,
                    "waiting for replicas is not supported on a Redis Cluster",
                )));
            }
            RedisTopology::Cluster(seeds) => {
                let client = ClusterClient::builder(seeds.iter().map(String::as_str))
                    .connection_timeout(CONNECTION_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .overall_response_timeout(Some(CLUSTER_REQUEST_TIMEOUT))
                    .retries(4)
                    .min_retry_wait(100)
                    .max_retry_wait(1000)
                    .build()?;
                Topology::Cluster(client.get_async_connection().await?)
            }
            RedisTopology::Sentinel { sentinels, service } => {
                Topology::Sentinel(SentinelConn::connect(sentinels, service, lane).await?)
            }
        };
        let fence = wait.map(|(wait, key)| Arc::new(Fence { wait, key }));
        Ok(RedisConn { topology, fence })
    }

    /// Which topology this is, for logs: `single`, `cluster` or `sentinel`.
    pub fn kind(&self) -> &'static str {
        match &self.topology {
            Topology::Single { .. } => "single",
            Topology::Cluster(_) => "cluster",
            Topology::Sentinel(_) => "sentinel",
        }
    }

    /// To take before writes that [`replicated`](Self::replicated) is to confirm.
    pub fn mark(&self) -> WriteMark {
        match &self.topology {
            Topology::Sentinel(sentinel) => WriteMark(sentinel.current().generation),
            _ => WriteMark(0),
        }
    }

    /// Returns once the replicas asked for (`PORTICO_REDIS_WAIT_REPLICAS`) hold every write
    /// made since `mark`; at once when none are asked for. An error (the request answers
    /// 503) when fewer acknowledge within the timeout, or when the master changed since
    /// `mark`, since the writes may then be on a demoted master that will drop them.
    ///
    /// `WAIT` covers the writes of the connection it is sent on, and blocks that connection
    /// until it answers, so it is not sent on the shared connection that every request
    /// multiplexes on: a lane of its own to the same master writes a fence key (its own write
    /// comes after every write already answered on the shared one, and replication keeps
    /// order), then waits for that.
    pub async fn replicated(&self, mark: WriteMark) -> RedisResult<()> {
        let Some(fence) = &self.fence else {
            return Ok(());
        };
        let (mut lane, sentinel) = match &self.topology {
            Topology::Single {
                lane: Some(lane), ..
            } => (lane.clone(), None),
            Topology::Sentinel(sentinel) => {
                let master = sentinel.current();
                match (master.lane, master.generation == mark.0) {
                    (Some(lane), true) => (lane, Some((sentinel, master.generation))),
                    _ => {
                        return Err(RedisError::from((
                            ErrorKind::Io,
                            "the Redis master changed while the request wrote to it",
                        )));
                    }
                }
            }
            _ => return Ok(()),
        };
        let wanted = fence.wait.replicas;
        let acknowledged: RedisResult<(u32,)> = redis::pipe()
            .cmd("INCR")
            .arg(&fence.key)
            .ignore()
            .cmd("WAIT")
            .arg(wanted)
            .arg(fence.wait.timeout.as_millis() as u64)
            .query_async(&mut lane)
            .await;
        match acknowledged {
            Ok((count,)) if count >= wanted => Ok(()),
            Ok((count,)) => Err(RedisError::from((
                ErrorKind::Io,
                "too few Redis replicas acknowledged the write",
                format!("{count} of {wanted} within the wait timeout"),
            ))),
            Err(e) => {
                if let Some((sentinel, seen)) = sentinel
                    && master_moved(&e)
                {
                    sentinel.refresh(seen).await;
                }
                Err(e)
            }
        }
    }
}

/// One server, by URL: a [`RedisConn`] of [`RedisTopology::Single`].
pub async fn connect(url: &str) -> RedisResult<RedisConn> {
    RedisConn::connect(&RedisTopology::Single(url.to_string())).await
}

/// The connection every request shares to one server and, with `lane`, a second one for
/// [`RedisConn::replicated`].
async fn main_and_lane(
    server: redis::Client,
    lane: bool,
) -> RedisResult<(ConnectionManager, Option<ConnectionManager>)> {
    let main = single_from(server.clone()).await?;
    let lane = match lane {
        true => Some(single_from(server).await?),
        false => None,
    };
    Ok((main, lane))
}

/// A `ConnectionManager` with short timeouts; it reconnects by itself when Redis is back.
async fn single_from(client: redis::Client) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_with_config(client, config).await
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.topology {
            Topology::Single { main: c, .. } => c.req_packed_command(cmd),
            Topology::Cluster(c) => c.req_packed_command(cmd),
            Topology::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.topology {
            Topology::Single { main: c, .. } => c.req_packed_commands(pipeline, offset, count),
            Topology::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Topology::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.topology {
            Topology::Single { main: c, .. } => c.get_db(),
            Topology::Cluster(c) => c.get_db(),
            Topology::Sentinel(c) => c.get_db(),
        }
    }
}

/// The master of a Sentinel-watched service: a `ConnectionManager` to the address the
/// sentinels give, replaced by one to the new master when an answer shows the old one is gone
/// or demoted (a connection error, `READONLY`, `LOADING`, `MASTERDOWN`). The command that met
/// the error fails (a 503 for its request); one refused outright (`READONLY`, `LOADING`) was
/// not carried out, so it is sent once more to the new master. One caller looks the master up
/// at a time; the others fail fast meanwhile rather than queue behind it.
#[derive(Clone)]
struct SentinelConn(Arc<SentinelShared>);

struct SentinelShared {
    sentinel: tokio::sync::Mutex<SentinelClient>,
    /// Whether each master gets a second connection, for [`RedisConn::replicated`].
    lane: bool,
    current: RwLock<Master>,
}

/// The connections to the master as last found.
#[derive(Clone)]
struct Master {
    /// How many times another master was found.
    generation: u64,
    /// Its `host:port`.
    address: String,
    main: ConnectionManager,
    lane: Option<ConnectionManager>,
}

impl SentinelConn {
    async fn connect(sentinels: &[String], service: &str, lane: bool) -> RedisResult<SentinelConn> {
        let urls: Vec<String> = sentinels.iter().map(|s| format!("redis://{s}")).collect();
        let mut client = SentinelClient::build(
            urls.iter().map(String::as_str).collect(),
            service.to_string(),
            None,
            SentinelServerType::Master,
        )?;
        let master = connect_master(find_master(&mut client).await?, lane).await?;
        Ok(SentinelConn(Arc::new(SentinelShared {
            sentinel: tokio::sync::Mutex::new(client),
            lane,
            current: RwLock::new(master),
        })))
    }

    fn current(&self) -> Master {
        self.0.current.read().expect("not poisoned").clone()
    }

    /// Finds the master again, unless another caller already replaced connection `seen` or is
    /// looking it up now; connects to it when it is another server. Whether the connection
    /// was replaced.
    async fn refresh(&self, seen: u64) -> bool {
        let Ok(mut sentinel) = self.0.sentinel.try_lock() else {
            return false;
        };
        if self.current().generation != seen {
            return true;
        }
        let found = match find_master(&mut sentinel).await {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!(error = %e, "no Redis master through the sentinels yet");
                return false;
            }
        };
        // Still the same server (a replica missing for `replicated`, a dropped connection):
        // its connections reconnect by themselves, and replacing them would only cut off the
        // commands other requests have in flight on them.
        if master_address(&found) == self.current().address {
            return false;
        }
        match connect_master(found, self.0.lane).await {
            Ok(master) => {
                *self.0.current.write().expect("not poisoned") = Master {
                    generation: seen + 1,
                    ..master
                };
                tracing::info!("Redis master found through the sentinels");
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "the master the sentinels name is not reachable yet");
                false
            }
        }
    }

    /// Sends `request` to the master, finding it again after an error that says it moved.
    async fn run(&self, request: Request<'_>) -> RedisResult<Vec<Value>> {
        let Master {
            generation: seen,
            main: mut manager,
            ..
        } = self.current();
        match request.send(&mut manager).await {
            Err(e) if master_moved(&e) => {
                if self.refresh(seen).await && refused_unexecuted(&e) {
                    return request.send(&mut self.current().main).await;
                }
                Err(e)
            }
            other => other,
        }
    }
}

/// A command or a pipeline, as [`ConnectionLike`] gets them.
#[derive(Clone, Copy)]
enum Request<'a> {
    One(&'a Cmd),
    Many(&'a Pipeline, usize, usize),
}

impl Request<'_> {
    async fn send(self, manager: &mut ConnectionManager) -> RedisResult<Vec<Value>> {
        match self {
            Request::One(cmd) => Ok(vec![manager.req_packed_command(cmd).await?]),
            Request::Many(pipeline, offset, count) => {
                manager.req_packed_commands(pipeline, offset, count).await
            }
        }
    }
}

/// Asks the sentinels for the master (the crate checks it says `ROLE` master).
async fn find_master(client: &mut SentinelClient) -> RedisResult<redis::Client> {
    let found = tokio::time::timeout(SENTINEL_RESOLVE_TIMEOUT, client.async_get_client()).await;
    found.map_err(|_| {
        RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the sentinels did not name a master in time",
        ))
    })?
}

fn master_address(master: &redis::Client) -> String {
    master.get_connection_info().addr().to_string()
}

/// Connects to a master found by [`find_master`], twice with `lane`.
async fn connect_master(master: redis::Client, lane: bool) -> RedisResult<Master> {
    let address = master_address(&master);
    let (main, lane) = main_and_lane(master, lane).await?;
    Ok(Master {
        generation: 0,
        address,
        main,
        lane,
    })
}

/// An error after which the master should be looked up again.
fn master_moved(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(e.code(), Some("READONLY" | "LOADING" | "MASTERDOWN"))
}

/// An answer that says the command was not carried out at all, so sending it again is safe.
fn refused_unexecuted(e: &RedisError) -> bool {
    matches!(e.code(), Some("READONLY" | "LOADING" | "MASTERDOWN"))
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut values = self.run(Request::One(cmd)).await?;
            Ok(values.pop().unwrap_or(Value::Nil))
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.run(Request::Many(pipeline, offset, count)))
    }

    fn get_db(&self) -> i64 {
        self.current().main.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tag of a key: what Redis Cluster hashes.
    fn tag(key: &str) -> &str {
        let open = key.find('{').expect("a tag");
        let close = key[open..].find('}').expect("a closed tag") + open;
        &key[open + 1..close]
    }

    #[test]
    fn keys_that_move_together_share_a_tag() {
        let keys = RedisKeys::new("p:");
        let mail = [
            keys.mail_stream(),
            keys.mail_dead(),
            keys.mail_retry(),
            keys.mail_sent("j1"),
        ];
        assert!(mail.iter().all(|k| tag(k) == "mail"), "{mail:?}");
        let firm = FirmId::parse("f_1").unwrap_or_else(FirmId::new);
        assert_eq!(
            tag(&keys.email_rate(&firm, "e", "a")),
            tag(&keys.email_mails_today(&firm, "e"))
        );
        assert_eq!(
            tag(&keys.staff_email_rate(&firm, "e", "a")),
            tag(&keys.staff_email_mails_today(&firm, "e"))
        );
        assert_ne!(
            tag(&keys.email_rate(&firm, "e", "a")),
            tag(&keys.staff_email_rate(&firm, "e", "a"))
        );
        assert_eq!(tag(&keys.session("h1")), "h1");
        assert_eq!(tag(&keys.link("l1")), "l1");
        // Every key has exactly one tag.
        for key in mail
            .iter()
            .chain([&keys.session("h"), &keys.link("l"), &keys.handover("x")])
        {
            assert_eq!(key.matches('{').count(), 1, "{key}");
        }
    }
}
