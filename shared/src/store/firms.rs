//! Firms, with their Owner when made, and the CLI's API keys (the rest of the team is in
//! `team`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Sqlite};

use super::{SqlStore, StoreError, on_unique};
use crate::email::Email;
use crate::ids::{ApiKeyId, FirmId, MemberId};
use crate::now_unix;
use crate::token::ApiKeyHash;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Firm {
    pub id: FirmId,
    pub slug: String,
    pub name: String,
    pub brand_color: String,
    pub created_at: i64,
    /// The name the portal shows, when it differs from the firm's name.
    pub display_name: Option<String>,
    /// JSON array of `{"label", "url"}`, validated on the way in.
    pub menu_links: String,
    pub billing_enabled: bool,
    pub esign_enabled: bool,
    /// SHA-256 (hex) of the portal logo, when the firm has one.
    pub logo_sha256: Option<String>,
}

impl Firm {
    /// The name clients see.
    pub fn portal_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }

    /// The firm's menu links as stored (validated when written; unreadable means none).
    pub fn menu_links(&self) -> Vec<MenuLink> {
        serde_json::from_str(&self.menu_links).unwrap_or_default()
    }
}

/// A link in the portal's menu.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MenuLink {
    pub label: String,
    pub url: String,
}

/// A partial update of the portal settings; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct PortalPatch {
    pub display_name: Option<String>,
    pub brand_color: Option<String>,
    pub menu_links: Option<String>,
    pub billing_enabled: Option<bool>,
    pub esign_enabled: Option<bool>,
}

/// A firm's logo image, already checked to be PNG, JPEG or WebP.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Logo {
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

#[derive(Debug)]
pub struct NewFirm {
    pub slug: String,
    pub name: String,
    pub owner_email: Email,
}

#[async_trait]
pub trait FirmStore {
    /// Creates the firm with its owner; `Conflict("slug")` when the slug is taken.
    async fn create_firm(&self, firm: &NewFirm) -> Result<Firm, StoreError>;
    async fn firm_by_slug(&self, slug: &str) -> Result<Option<Firm>, StoreError>;
    async fn firm_by_id(&self, id: &FirmId) -> Result<Option<Firm>, StoreError>;
    /// A key for the CLI: named `cli`, with the Owner role, acting for the firm's Owner.
    async fn add_api_key(&self, firm_id: &FirmId, key: &ApiKeyHash) -> Result<(), StoreError>;
    /// The firms where this (normalized) email is a contact with portal access, by name.
    async fn firms_of_email(&self, email_norm: &str) -> Result<Vec<Firm>, StoreError>;
    async fn update_portal(
        &self,
        firm_id: &FirmId,
        patch: &PortalPatch,
    ) -> Result<Firm, StoreError>;
    /// Replaces the firm's logo (`None` removes it); returns the firm as it now is.
    async fn set_logo(&self, firm_id: &FirmId, logo: Option<&Logo>) -> Result<Firm, StoreError>;
    async fn logo(&self, firm_id: &FirmId) -> Result<Option<Logo>, StoreError>;
}

macro_rules! firm_columns {
    () => {
        "id, slug, name, brand_color, created_at, display_name, menu_links, billing_enabled, \
         esign_enabled, logo_sha256"
    };
}

macro_rules! firm_store {
    ($backend:ty) => {
        #[async_trait]
        impl FirmStore for SqlStore<$backend> {
            async fn create_firm(&self, firm: &NewFirm) -> Result<Firm, StoreError> {
                let now = now_unix();
                let mut tx = self.writer.begin().await?;
                let created: Firm = sqlx::query_as(concat!(
                    "INSERT INTO firms (id, slug, name, created_at) VALUES ($1, $2, $3, $4) \
                     RETURNING ",
                    firm_columns!()
                ))
                .bind(FirmId::new())
                .bind(&firm.slug)
                .bind(&firm.name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(on_unique("slug"))?;
                sqlx::query(
                    "INSERT INTO members (id, firm_id, email, email_norm, role_id, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, 'owner', $5, $5)",
                )
                .bind(MemberId::new())
                .bind(&created.id)
                .bind(firm.owner_email.as_str())
                .bind(firm.owner_email.normalized())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn firm_by_slug(&self, slug: &str) -> Result<Option<Firm>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    firm_columns!(),
                    " FROM firms WHERE slug = $1"
                ))
                .bind(slug)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn firm_by_id(&self, id: &FirmId) -> Result<Option<Firm>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    firm_columns!(),
                    " FROM firms WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn add_api_key(
                &self,
                firm_id: &FirmId,
                key: &ApiKeyHash,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO api_keys (id, firm_id, name, prefix, key_hash, role_id, member_id, \
                     created_at) SELECT $1, $2, 'cli', $3, $4, 'owner', m.id, $5 \
                     FROM members m WHERE m.firm_id = $2 AND m.role_id = 'owner'",
                )
                .bind(ApiKeyId::new())
                .bind(firm_id)
                .bind(&key.prefix)
                .bind(&key.hash)
                .bind(now_unix())
                .execute(&self.writer)
                .await
                .map_err(on_unique("api key"))?;
                Ok(())
            }

            async fn update_portal(
                &self,
                firm_id: &FirmId,
                patch: &PortalPatch,
            ) -> Result<Firm, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE firms SET display_name = COALESCE($2, display_name), \
                     brand_color = COALESCE($3, brand_color), \
                     menu_links = COALESCE($4, menu_links), \
                     billing_enabled = COALESCE($5, billing_enabled), \
                     esign_enabled = COALESCE($6, esign_enabled) \
                     WHERE id = $1 RETURNING ",
                    firm_columns!()
                ))
                .bind(firm_id)
                .bind(&patch.display_name)
                .bind(&patch.brand_color)
                .bind(&patch.menu_links)
                .bind(patch.billing_enabled)
                .bind(patch.esign_enabled)
                .fetch_one(&self.writer)
                .await?)
            }

            async fn set_logo(
                &self,
                firm_id: &FirmId,
                logo: Option<&Logo>,
            ) -> Result<Firm, StoreError> {
                let mut tx = self.writer.begin().await?;
                match logo {
                    Some(logo) => {
                        sqlx::query(
                            "INSERT INTO firm_logos (firm_id, content_type, bytes, sha256, updated_at) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (firm_id) DO UPDATE SET \
                             content_type = excluded.content_type, bytes = excluded.bytes, \
                             sha256 = excluded.sha256, updated_at = excluded.updated_at",
                        )
                        .bind(firm_id)
                        .bind(&logo.content_type)
                        .bind(&logo.bytes)
                        .bind(&logo.sha256)
                        .bind(now_unix())
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM firm_logos WHERE firm_id = $1")
                            .bind(firm_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let firm = sqlx::query_as(concat!(
                    "UPDATE firms SET logo_sha256 = $2 WHERE id = $1 RETURNING ",
                    firm_columns!()
                ))
                .bind(firm_id)
                .bind(logo.map(|l| l.sha256.as_str()))
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(firm)
            }

            async fn logo(&self, firm_id: &FirmId) -> Result<Option<Logo>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT content_type, bytes, sha256 FROM firm_logos WHERE firm_id = $1",
                )
                .bind(firm_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn firms_of_email(&self, email_norm: &str) -> Result<Vec<Firm>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT f.id, f.slug, f.name, f.brand_color, f.created_at, f.display_name, \
                     f.menu_links, f.billing_enabled, f.esign_enabled, f.logo_sha256 \
                     FROM contacts c JOIN firms f ON f.id = c.firm_id \
                     WHERE c.email_norm = $1 AND c.portal_access ORDER BY f.name, f.id",
                )
                .bind(email_norm)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}
firm_store!(Sqlite);
firm_store!(Postgres);
