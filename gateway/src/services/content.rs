//! Uploaded documents on disk, named by their SHA-256 under `{PORTICO_DATA_DIR}/files/`.
//! An upload streams to a temporary file while it is hashed and measured ([`Incoming`]), then
//! is renamed to its hash (the same content is stored once). A stored file is never rewritten:
//! its name is its content. The HTTP side (reading a multipart field, download responses,
//! safe names) is `http::documents`.
//!
//! Rows are deleted (a task, a contact and with it their signing requests) but files are
//! shared by content, so nothing removes a file when a row goes. [`Blobs::sweep`] does, later:
//! it removes stored files that no row names any more. A file is written before its row
//! commits, so the sweep leaves alone any file younger than a grace period, and storing
//! content that is already there renames the new copy over the old one, which makes it young
//! again. The sweep takes a file out of place with one rename and looks at its age once more
//! before deleting it, so an upload of the same bytes racing the sweep is never lost. Folders
//! it leaves empty go too, and so do the page images (`services::previews`, kept in the
//! database) of documents no signing request names. It runs from `gateway files gc` and, every
//! `PORTICO_FILES_GC_EVERY`, inside `serve`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use portico_shared::filetypes::SNIFF_LEN;
use portico_shared::secret::{hex, random_string};
use portico_shared::store::Store;
use ring::digest::{Context, SHA256};
use tokio::io::AsyncWriteExt;

/// What can go wrong in the store: all of it is the server's problem, never the client's.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("not a SHA-256: {0:?}")]
    NotAHash(String),
    #[error("stored file {0} is missing")]
    Missing(String),
}

type Result<T, E = ContentError> = std::result::Result<T, E>;

fn io(what: &'static str) -> impl Fn(std::io::Error) -> ContentError + Copy {
    move |source| ContentError::Io { what, source }
}

/// The content-addressed store under a data folder.
pub struct Blobs {
    root: PathBuf,
}

/// An upload being written to a temporary file, hashed and measured as it comes.
pub struct Incoming {
    file: tokio::fs::File,
    digest: Context,
    received: Received,
}

impl Incoming {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let received = &mut self.received;
        received.size += chunk.len() as u64;
        if received.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - received.head.len()).min(chunk.len());
            received.head.extend_from_slice(&chunk[..take]);
        }
        self.digest.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(io("writing an upload"))
    }

    /// The bytes so far.
    pub fn size(&self) -> u64 {
        self.received.size
    }

    /// Flushes the file to disk; the upload is then ready to [`Blobs::keep`].
    pub async fn finish(mut self) -> Result<Received> {
        self.file
            .sync_all()
            .await
            .map_err(io("writing an upload"))?;
        self.received.sha256 = hex(self.digest.finish().as_ref());
        Ok(self.received)
    }
}

/// An upload written to a temporary file; removed on drop unless kept.
pub struct Received {
    temp: Option<PathBuf>,
    pub sha256: String,
    pub size: u64,
    /// The first bytes, for recognising the type.
    pub head: Vec<u8>,
    /// As the client named it (not yet made safe).
    pub file_name: Option<String>,
}

impl Drop for Received {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

impl Blobs {
    pub fn new(data_dir: &Path) -> Blobs {
        Blobs {
            root: data_dir.join("files"),
        }
    }

    /// Where the content with this hash lives: `files/ab/abcdef…`.
    pub fn path(&self, sha256: &str) -> Result<PathBuf> {
        // Hashes come from the database; refuse anything that could name another path.
        if !is_sha256(sha256) {
            return Err(ContentError::NotAHash(sha256.to_string()));
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }

    /// Starts an upload: a temporary file under `files/tmp/`, removed unless it is kept.
    pub async fn incoming(&self, file_name: Option<String>) -> Result<Incoming> {
        let tmp_dir = self.root.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(io("creating files/tmp"))?;
        let temp = tmp_dir.join(format!("{}.part", random_string::<12>()));
        let file = tokio::fs::File::create(&temp)
            .await
            .map_err(io("creating an upload's file"))?;
        Ok(Incoming {
            file,
            digest: Context::new(&SHA256),
            received: Received {
                temp: Some(temp),
                sha256: String::new(),
                size: 0,
                head: Vec::new(),
                file_name,
            },
        })
    }

    /// The stored file and its length, to stream.
    pub async fn open(&self, sha256: &str) -> Result<(tokio::fs::File, u64)> {
        let path = self.path(sha256)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContentError::Missing(sha256.to_string()));
            }
            Err(e) => return Err(io("opening a stored file")(e)),
        };
        let length = file
            .metadata()
            .await
            .map_err(io("reading a stored file"))?
            .len();
        Ok((file, length))
    }

    /// Moves a received file to its place. If that content is already stored, the new copy
    /// (same bytes) replaces it: the content is then as young as the row about to name it,
    /// so the sweep cannot take it away in between.
    pub async fn keep(&self, mut received: Received) -> Result<()> {
        let target = self.path(&received.sha256)?;
        let Some(temp) = received.temp.take() else {
            return Ok(());
        };
        let io = io("storing an upload");
        let dir = target.parent().unwrap_or(&self.root);
        // The sweep removes a folder it emptied; if it does so between these two steps, the
        // rename finds no folder: make it again (the sweep only removes empty folders).
        let mut tries = 0;
        loop {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
            match tokio::fs::rename(&temp, &target).await {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 3 => tries += 1,
                other => return other.map_err(io),
            }
        }
    }

    /// SHA-256 of the bytes stored under `sha256`, recomputed now; `None` if they are gone.
    pub async fn rehash(&self, sha256: &str) -> Result<Option<String>> {
        let path = self.path(sha256)?;
        let hashed = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            use std::io::Read;
            let mut file = std::fs::File::open(path)?;
            let mut digest = Context::new(&SHA256);
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                digest.update(&buffer[..n]);
            }
            Ok(hex(digest.finish().as_ref()))
        })
        .await
        .map_err(|e| io("hashing a stored file")(std::io::Error::other(e)))?;
        match hashed {
            Ok(hash) => Ok(Some(hash)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading a stored file")(e)),
        }
    }
}

/// What one sweep found: stored files removed (and their bytes), kept because a row names
/// them, or kept because they are younger than the grace period; leftovers of interrupted
/// uploads removed from `files/tmp/`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    pub removed: u64,
    pub removed_bytes: u64,
    pub in_use: u64,
    pub fresh: u64,
    pub leftovers: u64,
    /// Page images of documents no signing request names any more (counted by document).
    pub page_images: u64,
}

fn is_sha256(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `NotFound` as `None`: another sweep (or an upload) got there first.
fn unless_gone<T>(result: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Blobs {
    /// Removes the stored files no row names and that are older than `grace`, and the
    /// temporary files of uploads that ended without being kept. Files it does not recognise
    /// as its own are left alone.
    pub async fn sweep(&self, store: &dyn Store, grace: Duration) -> anyhow::Result<Sweep> {
        let cutoff = SystemTime::now()
            .checked_sub(grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let young = |meta: &std::fs::Metadata| meta.modified().map_or(true, |m| m > cutoff);
        let mut sweep = Sweep::default();
        let Some(mut dirs) = unless_gone(tokio::fs::read_dir(&self.root).await)? else {
            return Ok(sweep);
        };
        while let Some(dir) = dirs.next_entry().await? {
            let Some(prefix) = dir.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if prefix.len() != 2 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let Some(mut files) = unless_gone(tokio::fs::read_dir(dir.path()).await)? else {
                continue;
            };
            while let Some(file) = files.next_entry().await? {
                let Some(hash) = file.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if !is_sha256(&hash) || !hash.starts_with(&prefix) {
                    continue;
                }
                let Some(meta) = unless_gone(file.metadata().await)? else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                if young(&meta) {
                    sweep.fresh += 1;
                } else if store.content_in_use(&hash).await? {
                    sweep.in_use += 1;
                } else if self.discard(&file.path(), &hash, cutoff).await? {
                    sweep.removed += 1;
                    sweep.removed_bytes += meta.len();
                } else {
                    sweep.fresh += 1;
                }
            }
            // A folder left empty goes too (`remove_dir` refuses one that is not).
            let _ = tokio::fs::remove_dir(dir.path()).await;
        }
        if let Some(mut temps) = unless_gone(tokio::fs::read_dir(self.root.join("tmp")).await)? {
            while let Some(temp) = temps.next_entry().await? {
                let Some(meta) = unless_gone(temp.metadata().await)? else {
                    continue;
                };
                if meta.is_file()
                    && !young(&meta)
                    && unless_gone(tokio::fs::remove_file(temp.path()).await)?.is_some()
                {
                    sweep.leftovers += 1;
                }
            }
        }
        // Pages are rendered only for a request already stored, so they need no grace.
        sweep.page_images = store.sweep_page_images().await?;
        Ok(sweep)
    }

    /// Deletes an unreferenced stored file, unless an upload of the same bytes replaced it
    /// since it was looked at: the file is first renamed aside (atomic), then its age is read
    /// again. Returns whether it was deleted.
    async fn discard(&self, path: &Path, hash: &str, cutoff: SystemTime) -> std::io::Result<bool> {
        let tmp = self.root.join("tmp");
        tokio::fs::create_dir_all(&tmp).await?;
        let aside = tmp.join(format!("{hash}.{}.gc", random_string::<6>()));
        if unless_gone(tokio::fs::rename(path, &aside).await)?.is_none() {
            return Ok(false);
        }
        let Some(meta) = unless_gone(tokio::fs::metadata(&aside).await)? else {
            return Ok(false);
        };
        if meta.modified().map_or(true, |m| m > cutoff) {
            // Just stored again, for a row being written now: put it back (over a newer copy
            // of the same bytes, if one has arrived since).
            tokio::fs::rename(&aside, path).await?;
            return Ok(false);
        }
        Ok(unless_gone(tokio::fs::remove_file(&aside).await)?.is_some())
    }
}

/// Sweeps every `every`, the first time one `every` after start, until the task is dropped;
/// a failed sweep is logged and tried again next time.
pub async fn sweep_every(
    blobs: Blobs,
    store: std::sync::Arc<dyn Store>,
    every: Duration,
    grace: Duration,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match blobs.sweep(&*store, grace).await {
            Ok(sweep) if sweep.removed + sweep.leftovers + sweep.page_images > 0 => tracing::info!(
                removed = sweep.removed,
                page_images = sweep.page_images,
                removed_bytes = sweep.removed_bytes,
                leftovers = sweep.leftovers,
                in_use = sweep.in_use,
                "removed unreferenced files"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "file sweep failed"),
        }
    }
}
