//! Pages of the API's lists. A list takes `?limit=` (1 to 200, 50 when absent) and `?cursor=`,
//! and answers `{"data": [...], "next_cursor": ...}` ([`ListPage`]), oldest first. A cursor is
//! opaque: base64 of `{created_at}.{id}` of the last row of the page before, which the store
//! reads after.

use axum::response::Json;
use portico_shared::ids::ContactId;
use portico_shared::secret::{b64, unb64};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{Error, Result};

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

/// One page of a list.
#[derive(Serialize, ToSchema)]
pub struct ListPage<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A list's `contact_id` filter that cannot be a contact's id: it matches no row, so the list
/// answers [`Page::empty`] without asking the store.
pub struct NoContact;

/// The contact a list's `contact_id` filter names; `Ok(None)` when there is no filter.
pub fn contact_filter(text: Option<&str>) -> Result<Option<ContactId>, NoContact> {
    text.map(|text| ContactId::parse(text).ok_or(NoContact))
        .transpose()
}

/// The page a list request asks for.
pub struct Page {
    limit: i64,
    cursor: Option<String>,
}

impl Page {
    /// Checks `limit` at once; the cursor is decoded by [`Page::after`], so each list keeps
    /// checking its parameters in the order it always has.
    pub fn new(limit: Option<i64>, cursor: Option<String>) -> Result<Page> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("limit must be 1 to {MAX_PAGE}"),
            ));
        }
        Ok(Page { limit, cursor })
    }

    /// `(created_at, id)` of the row the page starts after, from the cursor.
    pub fn after(&self) -> Result<Option<(i64, String)>> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }

    /// How many rows to fetch: one more than the page holds, which tells whether another
    /// page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The 200 answer of a list that matches no row.
    pub fn empty<V>(&self) -> Json<ListPage<V>> {
        Json(ListPage {
            data: Vec::new(),
            next_cursor: None,
        })
    }

    /// The 200 answer for `rows` (fetched with [`Page::fetch`]): the page's rows as `view`
    /// shows them, and the cursor of the next page (`key` gives a row's `created_at` and id)
    /// or null on the last.
    pub fn respond<T, V>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> (i64, &str),
        view: impl FnMut(&T) -> V,
    ) -> Json<ListPage<V>> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|row| {
                let (created_at, id) = key(row);
                encode_cursor(created_at, id)
            })
        } else {
            None
        };
        Json(ListPage {
            data: rows.iter().map(view).collect(),
            next_cursor,
        })
    }
}

fn encode_cursor(created_at: i64, id: &str) -> String {
    b64(format!("{created_at}.{id}").as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<(i64, String)> {
    unb64(cursor)
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            let (time, id) = text.split_once('.')?;
            Some((time.parse().ok()?, id.to_string()))
        })
        .ok_or_else(|| Error::invalid("cursor", "cursor is not one this API gave out"))
}
