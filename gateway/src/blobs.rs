//! Uploaded documents on disk, named by their SHA-256 under `{PORTICO_DATA_DIR}/files/`.
//! An upload streams to a temporary file while it is hashed and measured, then is renamed to
//! its hash (the same content is stored once). A stored file is never rewritten: its name is
//! its content. Also the HTTP side of files: safe names and download responses.
//!
//! Rows are deleted (a task, a contact and with it their signing requests) but files are
//! shared by content, so nothing removes a file when a row goes. [`Blobs::sweep`] does, later:
//! it removes stored files that no row names any more. A file is written before its row
//! commits, so the sweep leaves alone any file younger than a grace period, and storing
//! content that is already there renames the new copy over the old one, which makes it young
//! again. The sweep takes a file out of place with one rename and looks at its age once more
//! before deleting it, so an upload of the same bytes racing the sweep is never lost. Folders
//! it leaves empty go too. It runs from `gateway files gc` and, every
//! `PORTICO_FILES_GC_EVERY`, inside `serve`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use portico_shared::filetypes::SNIFF_LEN;
use portico_shared::secret::{hex, random_string};
use portico_shared::store::Store;
use ring::digest::{Context, SHA256};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// Room for the other form fields and the multipart framing around one file.
pub const FORM_OVERHEAD: usize = 64 * 1024;

/// The content-addressed store under a data folder.
pub struct Blobs {
    root: PathBuf,
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

/// "25 MB", for messages.
pub fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 1.0 && mb.fract() == 0.0 {
        format!("{mb:.0} MB")
    } else if mb >= 0.1 {
        format!("{mb:.1} MB")
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

fn too_large(max: u64) -> Error {
    Error::TooLarge(format!(
        "This file is too large: the limit is {}.",
        megabytes(max)
    ))
}

/// A failure reading the multipart body as a client-facing error.
pub fn multipart_error(e: MultipartError, max: u64) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(max)
    } else {
        Error::BadRequest(format!("the upload could not be read: {}", e.body_text()))
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
            return Err(Error::Internal(anyhow::anyhow!(
                "not a SHA-256: {sha256:?}"
            )));
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }

    /// Streams a multipart field to a temporary file, hashing it; refuses more than `max`
    /// bytes with 413 (reading on to the end, so the browser gets the answer).
    pub async fn receive(&self, mut field: Field<'_>, max: u64) -> Result<Received> {
        let tmp_dir = self.root.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("creating {}: {e}", tmp_dir.display())))?;
        let temp = tmp_dir.join(format!("{}.part", random_string::<12>()));
        let mut received = Received {
            temp: Some(temp.clone()),
            sha256: String::new(),
            size: 0,
            head: Vec::new(),
            file_name: field.file_name().map(str::to_string),
        };
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("creating {}: {e}", temp.display())))?;
        let mut digest = Context::new(&SHA256);
        let mut over = false;
        loop {
            let chunk = match field.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(_) if over => break,
                Err(e) => return Err(multipart_error(e, max)),
            };
            if over {
                continue;
            }
            received.size += chunk.len() as u64;
            if received.size > max {
                over = true;
                continue;
            }
            if received.head.len() < SNIFF_LEN {
                let take = (SNIFF_LEN - received.head.len()).min(chunk.len());
                received.head.extend_from_slice(&chunk[..take]);
            }
            digest.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("writing an upload: {e}")))?;
        }
        if over {
            return Err(too_large(max));
        }
        file.sync_all()
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("writing an upload: {e}")))?;
        received.sha256 = hex(digest.finish().as_ref());
        Ok(received)
    }

    /// Moves a received file to its place. If that content is already stored, the new copy
    /// (same bytes) replaces it: the content is then as young as the row about to name it,
    /// so the sweep cannot take it away in between.
    pub async fn keep(&self, mut received: Received) -> Result<()> {
        let target = self.path(&received.sha256)?;
        let Some(temp) = received.temp.take() else {
            return Ok(());
        };
        let io = |e: std::io::Error| Error::Internal(anyhow::anyhow!("storing an upload: {e}"));
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
        .map_err(|e| Error::Internal(e.into()))?;
        match hashed {
            Ok(hash) => Ok(Some(hash)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Internal(anyhow::anyhow!(
                "reading a stored file: {e}"
            ))),
        }
    }

    /// A response streaming the stored file: `inline` or as an attachment, never sniffed.
    pub async fn serve(
        &self,
        sha256: &str,
        file_name: &str,
        content_type: &str,
        inline: bool,
    ) -> Result<Response> {
        let path = self.path(sha256)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Internal(anyhow::anyhow!(
                    "stored file {sha256} is missing"
                )));
            }
            Err(e) => return Err(Error::Internal(anyhow::anyhow!("opening {sha256}: {e}"))),
        };
        let length = file
            .metadata()
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("reading {sha256}: {e}")))?
            .len();
        let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
        let mut response = (StatusCode::OK, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(
            header::CONTENT_DISPOSITION,
            content_disposition(inline, file_name),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        Ok(response)
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
            Ok(sweep) if sweep.removed + sweep.leftovers > 0 => tracing::info!(
                removed = sweep.removed,
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

/// The `Repr-Digest` header (RFC 9530) of content whose hex SHA-256 is `sha256`:
/// `sha-256=:<base64 of the 32 bytes>:`, the form HTTP clients and tools check.
pub fn repr_digest(sha256: &str) -> Result<HeaderValue> {
    let bytes: Option<Vec<u8>> = (sha256.len() == 64)
        .then(|| {
            (0..32)
                .map(|i| u8::from_str_radix(sha256.get(2 * i..2 * i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    let bytes =
        bytes.ok_or_else(|| Error::Internal(anyhow::anyhow!("not a SHA-256: {sha256:?}")))?;
    let value = format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    HeaderValue::from_str(&value).map_err(|e| Error::Internal(e.into()))
}

/// A client's file name made safe to store and show: no folders, no control or quoting
/// characters, at most 150 characters (keeping the extension); `document` if nothing is left.
pub fn safe_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || "\"<>:|?*;%".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return "document".into();
    }
    const MAX: usize = 150;
    if cleaned.chars().count() <= MAX {
        return cleaned.to_string();
    }
    let (stem, ext) = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().count() <= 10 => (stem, format!(".{ext}")),
        _ => (cleaned, String::new()),
    };
    let keep = MAX - ext.chars().count();
    format!("{}{ext}", stem.chars().take(keep).collect::<String>())
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
pub fn content_disposition(inline: bool, file_name: &str) -> HeaderValue {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in file_name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(
            safe_file_name("C:\\Users\\ann\\Bank 2026.pdf"),
            "Bank 2026.pdf"
        );
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("a\"b\r\n.pdf"), "a_b__.pdf");
        assert_eq!(safe_file_name("..."), "document");
        assert_eq!(safe_file_name(".hidden.txt"), "hidden.txt");
        let long = format!("{}.pdf", "x".repeat(400));
        let safe = safe_file_name(&long);
        assert_eq!(safe.chars().count(), 150);
        assert!(safe.ends_with(".pdf"));
    }

    #[test]
    fn disposition_quotes_nothing_dangerous() {
        let value = content_disposition(false, "Relevé \"final\".pdf");
        let text = value.to_str().unwrap();
        assert_eq!(
            text,
            "attachment; filename=\"Relev_ _final_.pdf\"; \
             filename*=UTF-8''Relev%C3%A9%20%22final%22.pdf"
        );
    }

    #[test]
    fn digests_are_base64_of_the_hash_bytes() {
        // SHA-256 of the empty string.
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            repr_digest(empty).unwrap(),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
        assert!(repr_digest("xyz").is_err());
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(megabytes(25 * 1024 * 1024), "25 MB");
        assert_eq!(megabytes(1000), "1 KB");
        assert_eq!(megabytes(1536 * 1024), "1.5 MB");
    }
}
