//! Page images of signing documents, so a client reads what they sign on any device (phone
//! browsers show a framed PDF as an empty box). Each document is rendered once, by content:
//! in the background when a signing request is made ([`start`]), or when a sign page finds no
//! images yet for a document stored before previews existed ([`current`]). The database row
//! is the claim ([`PageImageStore::claim_page_images`]), so one gateway renders a document at a time
//! and the others serve what it stored.
//!
//! A PDF is untrusted input, so the work happens in separate processes, Debian's poppler
//! tools: `pdfinfo` counts the pages and `pdftoppm` renders the first
//! `PORTICO_PREVIEW_PAGES` of them as PNG, at most [`LONGEST_SIDE`] pixels on the longest
//! side. Each runs under `prlimit` (address space `PORTICO_PREVIEW_MEMORY`, no core files),
//! in a process group of its own that is killed when `PORTICO_PREVIEW_TIMEOUT` runs out for
//! the whole document. A document that fails is marked so and not tried again; the sign page
//! then offers the download only.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use portico_shared::now_unix;
use portico_shared::secret::random_string;
use portico_shared::store::{PageImages, Store};
use tokio::process::Command;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::services::content::Blobs;
use crate::state::AppState;

/// Longest side of a page image, in pixels: sharp on a phone, readable on a desktop.
pub const LONGEST_SIDE: u32 = 1200;
/// Renderings one gateway runs at once; more documents wait their turn.
static RENDERERS: Semaphore = Semaphore::const_new(2);

/// The bounds one document's rendering runs under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub pages: u32,
    pub timeout: Duration,
    pub memory: u64,
}

impl Limits {
    pub fn of(config: &portico_shared::config::Config) -> Limits {
        Limits {
            pages: config.preview_pages,
            timeout: config.preview_timeout,
            memory: config.preview_memory,
        }
    }
}

/// A rendered document: how many pages it has, and the images of the first of them.
#[derive(Debug)]
pub struct Rendered {
    pub page_count: u32,
    pub pages: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot run {tool} (is poppler-utils installed?): {source}")]
    Spawn {
        tool: &'static str,
        source: std::io::Error,
    },
    #[error("{tool} took longer than the time allowed and was killed")]
    TimedOut { tool: &'static str },
    /// The tool refused the document (not a PDF, damaged, encrypted, too large for memory).
    #[error("{tool} exited with {status}")]
    Refused {
        tool: &'static str,
        status: std::process::ExitStatus,
    },
    #[error("pdfinfo gave no page count")]
    NoPageCount,
    #[error("pdftoppm wrote no page image")]
    NoImages,
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
}

/// Renders the PDF at `pdf` within `limits`.
pub async fn render(pdf: &Path, limits: Limits) -> Result<Rendered, (RenderError, Option<u32>)> {
    let deadline = Instant::now() + limits.timeout;
    let info = run_bounded("pdfinfo", &[pdf.as_os_str()], limits, deadline)
        .await
        .map_err(|e| (e, None))?;
    let page_count =
        page_count(&String::from_utf8_lossy(&info)).ok_or((RenderError::NoPageCount, None))?;
    let images = ScratchDir::new().await.map_err(|e| (e, Some(page_count)))?;
    let last = page_count.clamp(1, limits.pages).to_string();
    let scale = LONGEST_SIDE.to_string();
    let prefix = images.path.join("page");
    run_bounded(
        "pdftoppm",
        &[
            "-png".as_ref(),
            "-scale-to".as_ref(),
            scale.as_ref(),
            "-f".as_ref(),
            "1".as_ref(),
            "-l".as_ref(),
            last.as_ref(),
            pdf.as_os_str(),
            prefix.as_os_str(),
        ],
        limits,
        deadline,
    )
    .await
    .map_err(|e| (e, Some(page_count)))?;
    let pages = images
        .read_pages()
        .await
        .map_err(|e| (e, Some(page_count)))?;
    images.remove().await;
    if pages.is_empty() {
        return Err((RenderError::NoImages, Some(page_count)));
    }
    Ok(Rendered { page_count, pages })
}

/// `Pages: N` from pdfinfo's report.
fn page_count(info: &str) -> Option<u32> {
    info.lines()
        .find_map(|line| line.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Runs `tool` under the memory bound, in a process group of its own that is killed at
/// `deadline`; its standard output.
async fn run_bounded(
    tool: &'static str,
    args: &[&std::ffi::OsStr],
    limits: Limits,
    deadline: Instant,
) -> Result<Vec<u8>, RenderError> {
    // prlimit sets the limits and then becomes the tool (exec), so the group holds the tool.
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--as={}", limits.memory))
        .arg("--core=0")
        .arg("--")
        .arg(tool)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|source| RenderError::Spawn { tool, source })?;
    let group = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32));
    match tokio::time::timeout_at(deadline, child.wait_with_output()).await {
        Ok(Ok(output)) if output.status.success() => Ok(output.stdout),
        Ok(Ok(output)) => Err(RenderError::Refused {
            tool,
            status: output.status,
        }),
        Ok(Err(source)) => Err(RenderError::Io {
            what: "waiting for the renderer",
            source,
        }),
        Err(_) => {
            if let Some(group) = group {
                // Already gone is fine: the group ended just as time ran out.
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            Err(RenderError::TimedOut { tool })
        }
    }
}

/// A private folder for one rendering's images.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    async fn new() -> Result<ScratchDir, RenderError> {
        let path = std::env::temp_dir().join(format!("portico-pages-{}", random_string::<12>()));
        tokio::fs::create_dir(&path)
            .await
            .map_err(|source| RenderError::Io {
                what: "creating a folder for page images",
                source,
            })?;
        Ok(ScratchDir { path })
    }

    /// The images pdftoppm wrote (`page-1.png`, or `page-01.png` with more pages), in page order.
    async fn read_pages(&self) -> Result<Vec<Vec<u8>>, RenderError> {
        let io = |what| move |source| RenderError::Io { what, source };
        let mut numbered = Vec::new();
        let mut entries = tokio::fs::read_dir(&self.path)
            .await
            .map_err(io("listing page images"))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(io("listing page images"))?
        {
            let name = entry.file_name();
            let number = name
                .to_str()
                .and_then(|n| n.strip_prefix("page-"))
                .and_then(|n| n.strip_suffix(".png"))
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(number) = number {
                numbered.push((number, entry.path()));
            }
        }
        numbered.sort();
        let mut pages = Vec::with_capacity(numbered.len());
        for (_, path) in numbered {
            pages.push(
                tokio::fs::read(&path)
                    .await
                    .map_err(io("reading a page image"))?,
            );
        }
        Ok(pages)
    }

    async fn remove(self) {
        let _ = tokio::fs::remove_dir_all(&self.path).await;
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // After `remove` this finds nothing; on an early return it cleans up.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The start of a document's hash, enough to find it in the logs.
fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

/// A claim older than this was left by a gateway that stopped mid-rendering: take it over.
fn stale_before(limits: Limits) -> i64 {
    now_unix() - limits.timeout.as_secs() as i64 - 60
}

/// Starts rendering the document with this content in the background, unless it is rendered,
/// failed, or being rendered (here or by another gateway).
pub fn start(state: &AppState, sha256: &str) {
    let state = state.clone();
    let sha256 = sha256.to_string();
    tokio::spawn(async move {
        let limits = Limits::of(&state.config);
        let rendered = render_and_store(&*state.store, &state.blobs(), limits, &sha256).await;
        if let Err(e) = rendered {
            tracing::warn!(
                document = %short(&sha256),
                error = %format!("{e:#}"),
                "storing a document's page images failed"
            );
        }
    });
}

/// Where the preview of this content stands, starting its rendering when there is none yet
/// (a document stored before previews existed) or its renderer stopped without finishing.
pub async fn current(state: &AppState, sha256: &str) -> crate::error::Result<PageImages> {
    let limits = Limits::of(&state.config);
    let preview = state.store.page_images(sha256).await?;
    match preview {
        Some(PageImages::Rendering { started_at }) if started_at >= stale_before(limits) => {}
        Some(done @ (PageImages::Ready { .. } | PageImages::Failed { .. })) => {
            return Ok(done);
        }
        _ => start(state, sha256),
    }
    Ok(PageImages::Rendering {
        started_at: now_unix(),
    })
}

/// Renders the document with this content and stores its pages, unless another renderer
/// holds it or it is done. `gateway demo` calls this directly; gateways through [`start`].
pub async fn render_and_store(
    store: &dyn Store,
    blobs: &Blobs,
    limits: Limits,
    sha256: &str,
) -> anyhow::Result<()> {
    // Waiting for a turn comes before the claim, so a claim's age is its rendering time.
    let _turn = RENDERERS.acquire().await?;
    let pdf = blobs.path(sha256)?;
    if !store
        .claim_page_images(sha256, stale_before(limits))
        .await?
    {
        return Ok(());
    }
    match render(&pdf, limits).await {
        Ok(rendered) => {
            let stored = store
                .finish_page_images(sha256, rendered.page_count, &rendered.pages)
                .await?;
            tracing::info!(
                document = %short(sha256),
                pages = rendered.pages.len(),
                of = rendered.page_count,
                stored,
                "rendered a document's page images"
            );
        }
        Err((error, page_count)) => {
            // What went wrong only: never the document's text.
            tracing::warn!(
                document = %short(sha256),
                error = %error,
                "a document's pages could not be rendered; the sign page offers the download only"
            );
            store.fail_page_images(sha256, page_count).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_count_comes_from_pdfinfo() {
        let info = "Producer:       x\nPages:          12\nEncrypted:      no\n";
        assert_eq!(page_count(info), Some(12));
        assert_eq!(page_count("Title: Pages: 3\n"), None);
        assert_eq!(page_count(""), None);
    }

    fn limits(timeout: Duration) -> Limits {
        Limits {
            pages: 50,
            timeout,
            memory: 256 * 1024 * 1024,
        }
    }

    /// The tool runs with the address-space limit and without core files.
    #[tokio::test]
    async fn the_tool_runs_under_the_memory_limit() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let args = ["/proc/self/limits".as_ref()];
        let out = run_bounded("cat", &args, limits(Duration::from_secs(10)), deadline)
            .await
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{name} in {text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(
            line("Max address space").contains("268435456 268435456 bytes"),
            "{text}"
        );
        assert!(line("Max core file size").contains("0 0 bytes"), "{text}");
    }

    /// A tool still running at the deadline is killed with its process group, promptly.
    #[tokio::test]
    async fn a_tool_past_its_deadline_is_killed() {
        // A sleep long and odd enough to be found among the processes by its argument.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let marker = format!("1000.{nanos:09}");
        let started = std::time::Instant::now();
        let deadline = Instant::now() + Duration::from_millis(500);
        // A shell whose child sleeps: both are in the group that is killed.
        let script = format!("sleep {marker} & wait");
        let args = ["-c".as_ref(), script.as_ref()];
        let result = run_bounded("sh", &args, limits(Duration::from_secs(1)), deadline).await;
        assert!(
            matches!(result, Err(RenderError::TimedOut { tool: "sh" })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // Neither the shell nor its sleeping child is left.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let survivors = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(&marker))
            .count();
        assert_eq!(survivors, 0);
    }

    #[tokio::test]
    async fn a_missing_tool_is_reported_as_such() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let result = run_bounded(
            "portico-no-such-tool",
            &[],
            limits(Duration::from_secs(5)),
            deadline,
        )
        .await;
        // prlimit runs, but cannot become the tool.
        assert!(
            matches!(result, Err(RenderError::Refused { .. })),
            "{result:?}"
        );
    }
}
