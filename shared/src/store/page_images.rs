//! Page images of signing documents (migration 0016), kept by the document's SHA-256 like the
//! stored file itself, in the database so that every gateway serves what any one rendered.
//! The preview row is also the claim: one gateway inserts it (`rendering`) and renders; the
//! others see it and wait. A claim left `rendering` by a gateway that died is taken over once
//! it is older than the renderer's time limit.

use async_trait::async_trait;
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError};
use crate::now_unix;

/// Where a document's preview stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageImages {
    /// A gateway has been rendering it since `started_at` (Unix seconds).
    Rendering { started_at: i64 },
    /// The first `rendered` of the document's `page_count` pages are stored.
    Ready { page_count: u32, rendered: u32 },
    /// The renderer gave up; `page_count` when it was learnt before. Not tried again.
    Failed { page_count: Option<u32> },
}

#[derive(sqlx::FromRow)]
struct PreviewRow {
    state: String,
    page_count: Option<i64>,
    rendered: i64,
    started_at: i64,
}

impl PreviewRow {
    fn into_state(self) -> PageImages {
        let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        match self.state.as_str() {
            "ready" => PageImages::Ready {
                page_count: self.page_count.map_or(0, count),
                rendered: count(self.rendered),
            },
            "failed" => PageImages::Failed {
                page_count: self.page_count.map(count),
            },
            _ => PageImages::Rendering {
                started_at: self.started_at,
            },
        }
    }
}

#[async_trait]
pub trait PageImageStore {
    /// The preview of this content, if one was ever started.
    async fn page_images(&self, sha256: &str) -> Result<Option<PageImages>, StoreError>;
    /// Claims the rendering of this content: true when there was no preview, or only a
    /// `rendering` claim started before `stale_before` (Unix seconds); false when someone
    /// else holds it or it is done (ready or failed).
    async fn claim_page_images(&self, sha256: &str, stale_before: i64) -> Result<bool, StoreError>;
    /// Stores the rendered pages (the first `pages.len()` of `page_count`), in page order, and
    /// marks the preview ready. False (nothing stored) when the claim is gone: the document
    /// was swept meanwhile.
    async fn finish_page_images(
        &self,
        sha256: &str,
        page_count: u32,
        pages: &[Vec<u8>],
    ) -> Result<bool, StoreError>;
    /// Marks a claimed preview failed, so it is not tried again.
    async fn fail_page_images(
        &self,
        sha256: &str,
        page_count: Option<u32>,
    ) -> Result<(), StoreError>;
    /// The image of page `page` (from 1) of this content.
    async fn stored_page_image(
        &self,
        sha256: &str,
        page: u32,
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removes the previews (and their pages) of content no signing request names any more;
    /// returns how many went.
    async fn sweep_page_images(&self) -> Result<u64, StoreError>;
}

/// Rows of `$table` for content that no signing request names.
macro_rules! unnamed_content {
    ($table:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE NOT EXISTS (SELECT 1 FROM signing_requests s \
             WHERE s.document_sha256 = ",
            $table,
            ".sha256)"
        )
    };
}

macro_rules! preview_store {
    ($backend:ty) => {
        #[async_trait]
        impl PageImageStore for SqlStore<$backend> {
            async fn page_images(&self, sha256: &str) -> Result<Option<PageImages>, StoreError> {
                let row: Option<PreviewRow> = sqlx::query_as(
                    "SELECT state, page_count, rendered, started_at FROM document_previews \
                     WHERE sha256 = $1",
                )
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(PreviewRow::into_state))
            }

            async fn claim_page_images(
                &self,
                sha256: &str,
                stale_before: i64,
            ) -> Result<bool, StoreError> {
                let claimed = sqlx::query(
                    "INSERT INTO document_previews (sha256, state, started_at) \
                     VALUES ($1, 'rendering', $2) \
                     ON CONFLICT (sha256) DO UPDATE SET started_at = excluded.started_at \
                     WHERE document_previews.state = 'rendering' \
                     AND document_previews.started_at < $3",
                )
                .bind(sha256)
                .bind(now_unix())
                .bind(stale_before)
                .execute(&self.writer)
                .await?
                .rows_affected();
                Ok(claimed == 1)
            }

            async fn finish_page_images(
                &self,
                sha256: &str,
                page_count: u32,
                pages: &[Vec<u8>],
            ) -> Result<bool, StoreError> {
                let mut tx = self.writer.begin().await?;
                let claimed = sqlx::query(
                    "UPDATE document_previews SET state = 'ready', page_count = $2, \
                     rendered = $3, finished_at = $4 WHERE sha256 = $1 AND state = 'rendering'",
                )
                .bind(sha256)
                .bind(i64::from(page_count))
                .bind(pages.len() as i64)
                .bind(now_unix())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed == 0 {
                    return Ok(false);
                }
                // A claim taken over from a gateway that died may find its half-written pages.
                sqlx::query("DELETE FROM document_pages WHERE sha256 = $1")
                    .bind(sha256)
                    .execute(&mut *tx)
                    .await?;
                for (index, image) in pages.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO document_pages (sha256, page, image) VALUES ($1, $2, $3)",
                    )
                    .bind(sha256)
                    .bind(index as i64 + 1)
                    .bind(image.as_slice())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn fail_page_images(
                &self,
                sha256: &str,
                page_count: Option<u32>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE document_previews SET state = 'failed', page_count = $2, \
                     rendered = 0, finished_at = $3 WHERE sha256 = $1 AND state = 'rendering'",
                )
                .bind(sha256)
                .bind(page_count.map(i64::from))
                .bind(now_unix())
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn stored_page_image(
                &self,
                sha256: &str,
                page: u32,
            ) -> Result<Option<Vec<u8>>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT image FROM document_pages WHERE sha256 = $1 AND page = $2",
                )
                .bind(sha256)
                .bind(i64::from(page))
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn sweep_page_images(&self) -> Result<u64, StoreError> {
                let mut tx = self.writer.begin().await?;
                sqlx::query(unnamed_content!("document_pages"))
                .execute(&mut *tx)
                .await?;
                let removed = sqlx::query(unnamed_content!("document_previews"))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(removed)
            }
        }
    };
}
preview_store!(Sqlite);
preview_store!(Postgres);
