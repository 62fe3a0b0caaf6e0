//! Noting sign-ins in groups. Every sign-in writes the contact's last-login time (checking, in
//! the same statement, that access was not revoked since the link was issued). On SQLite all
//! writes queue for one connection, so one write per sign-in made the write the limit of a
//! burst of sign-ins. Here one task writes whatever sign-ins gathered while its previous write
//! was under way, in one statement: a group commit, with no timer, so a lone sign-in is
//! written at once.
//!
//! Each caller waits for its own answer: a sign-in is refused or admitted only after its row
//! is written, exactly as with a write of its own.

use std::sync::Arc;

use portico_shared::store::{SignIn, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// At most this many sign-ins in one statement.
const MAX_GROUP: usize = 64;

type Request = (SignIn, oneshot::Sender<Result<bool, StoreError>>);

#[derive(Clone)]
pub struct SignIns {
    requests: mpsc::UnboundedSender<Request>,
}

impl SignIns {
    /// Starts the writing task; it ends when the last `SignIns` is dropped.
    pub fn start(store: Arc<dyn Store>) -> SignIns {
        let (requests, mut incoming) = mpsc::unbounded_channel::<Request>();
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_GROUP);
            while incoming.recv_many(&mut group, MAX_GROUP).await > 0 {
                let (sign_ins, waiting): (Vec<SignIn>, Vec<_>) = group.drain(..).unzip();
                match store.record_logins(&sign_ins).await {
                    Ok(recorded) => {
                        for (waiter, recorded) in waiting.into_iter().zip(recorded) {
                            let _ = waiter.send(Ok(recorded));
                        }
                    }
                    // The database is away: every caller answers 503 at once (writing each
                    // alone would wait out the pool's timeout once per caller).
                    Err(e) if e.is_unavailable() => {
                        for waiter in waiting {
                            let _ = waiter.send(Err(StoreError::Unavailable));
                        }
                    }
                    // Anything else: write each alone, so every caller gets its own answer.
                    Err(_) => {
                        for (sign_in, waiter) in sign_ins.into_iter().zip(waiting) {
                            let alone = store.record_logins(std::slice::from_ref(&sign_in)).await;
                            let _ = waiter.send(alone.map(|r| r.first() == Some(&true)));
                        }
                    }
                }
            }
        });
        SignIns { requests }
    }

    /// Notes the sign-in; `false` when the contact's access was revoked or its epoch moved on
    /// since the link was issued: refuse it.
    pub async fn record(&self, sign_in: SignIn) -> Result<bool, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .send((sign_in, answer))
            .map_err(|_| StoreError::Unavailable)?;
        answered.await.map_err(|_| StoreError::Unavailable)?
    }
}
