//! The HTTP side of uploaded documents: reading an uploaded file from a multipart field into
//! the content store (`services::content`), streaming a stored file back as a download, and
//! the names and headers that go with it.

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use portico_shared::ids::{FirmId, TaskFileId, TaskId};
use portico_shared::store::ClientViewer;
use portico_shared::units::megabytes;

use crate::error::{Error, Result};
use crate::services::content::{Blobs, Received};
use crate::state::AppState;

/// Room for the other form fields and the multipart framing around one file.
pub const FORM_OVERHEAD: usize = 64 * 1024;

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

/// Streams a multipart field into the store, hashing it; refuses more than `max` bytes with
/// 413 (reading on to the end, so the browser gets the answer).
pub async fn receive(blobs: &Blobs, mut field: Field<'_>, max: u64) -> Result<Received> {
    let mut incoming = blobs
        .incoming(field.file_name().map(str::to_string))
        .await?;
    let mut over = false;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) if over => break,
            Err(e) => return Err(multipart_error(e, max)),
        };
        if over || incoming.size() + chunk.len() as u64 > max {
            over = true;
            continue;
        }
        incoming.write(&chunk).await?;
    }
    if over {
        return Err(too_large(max));
    }
    Ok(incoming.finish().await?)
}

/// A file of a task, as an attachment; 404 when the task has no such file. The portal passes
/// its `viewer` (only tasks shared with them); staff surfaces pass `None`, having checked
/// their reach of the task first.
pub async fn task_file(
    state: &AppState,
    firm_id: &FirmId,
    viewer: Option<&ClientViewer>,
    task: &TaskId,
    file: &TaskFileId,
) -> Result<Response> {
    let found = state
        .store
        .task_file(firm_id, viewer, task, file)
        .await?
        .ok_or(Error::NotFound)?;
    download(
        &state.blobs(),
        &found.sha256,
        &found.file_name,
        &found.content_type,
        false,
    )
    .await
}

/// A response streaming the stored file: `inline` or as an attachment, never sniffed.
pub async fn download(
    blobs: &Blobs,
    sha256: &str,
    file_name: &str,
    content_type: &str,
    inline: bool,
) -> Result<Response> {
    let (file, length) = blobs.open(sha256).await?;
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

/// Characters that show nothing or reorder what is shown, dropped from names: every format
/// character (general category Cf: the bidi embeddings, overrides and isolates U+202A–U+202E
/// and U+2066–U+2069, the marks U+200E, U+200F and U+061C, the zero-width U+200B–U+200D,
/// U+2060–U+2064, U+FEFF, the soft hyphen U+00AD, …), the line and paragraph separators
/// (Zl, Zp: U+2028, U+2029), and the invisible letters and marks of Unicode's
/// Default_Ignorable_Code_Point list that are not Cf (U+034F, U+115F, U+1160, U+17B4, U+17B5,
/// U+3164, U+FFA0). `evil\u{202E}gnp.pdf` would otherwise show as `evilfdp.png`.
fn invisible(c: char) -> bool {
    use unicode_general_category::{GeneralCategory, get_general_category};
    matches!(
        get_general_category(c),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || matches!(
        c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{3164}' | '\u{FFA0}'
    )
}

/// A client's file name made safe to store and show: no folders, no control or quoting
/// characters, no invisible or reordering ones ([`invisible`]), at most 150 characters
/// (keeping the extension); `document` if nothing is left.
pub fn safe_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|&c| !invisible(c))
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
    fn invisible_and_reordering_characters_are_dropped() {
        // Right-to-left override: shown to staff as "evilfdp.png".
        assert_eq!(safe_file_name("evil\u{202E}gnp.pdf"), "evilgnp.pdf");
        for c in [
            '\u{00AD}',
            '\u{061C}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2028}',
            '\u{2029}',
            '\u{2060}',
            '\u{2061}',
            '\u{2062}',
            '\u{2063}',
            '\u{2064}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{034F}',
            '\u{115F}',
            '\u{3164}',
            '\u{FFA0}',
            '\u{E0001}',
        ] {
            let name = format!("in{c}voice.pdf");
            assert_eq!(safe_file_name(&name), "invoice.pdf", "U+{:04X}", c as u32);
        }
        // A name of nothing but invisible characters is no name.
        assert_eq!(safe_file_name("\u{202E}\u{200B}"), "document");
        // Visible letters of any script stay.
        assert_eq!(
            safe_file_name("Übersicht عربي 日本.pdf"),
            "Übersicht عربي 日本.pdf"
        );
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
}
