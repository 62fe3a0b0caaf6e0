//! How a task's documents and the accepted upload types read on a page.

use portico_shared::filetypes::FileType;
use portico_shared::ids::{ContactId, TaskFileId};
use portico_shared::store::TaskFile;
use portico_shared::units::megabytes;
use serde::Serialize;

use crate::http::layout::tr;
use crate::state::AppState;

/// A file as the task page lists it.
#[derive(Serialize)]
pub struct FileRow {
    id: TaskFileId,
    name: String,
    size: String,
    uploaded: String,
    by_me: bool,
}

pub fn rows(files: &[TaskFile], contact_id: &ContactId) -> Vec<FileRow> {
    files
        .iter()
        .map(|f| FileRow {
            id: f.id.clone(),
            name: f.file_name.clone(),
            size: megabytes(f.size.max(0) as u64),
            uploaded: time::OffsetDateTime::from_unix_timestamp(f.created_at)
                .map(|t| t.date().to_string())
                .unwrap_or_default(),
            by_me: f.contact_id == *contact_id,
        })
        .collect()
}

/// "PDF, PNG, JPEG or CSV" for the configured types, `or` in the page's language.
pub fn accepted_labels(types: &[&FileType], or: &str) -> String {
    let mut labels: Vec<&str> = Vec::new();
    for t in types {
        if !labels.contains(&t.label) {
            labels.push(t.label);
        }
    }
    match labels.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} {or} {last}", rest.join(", ")),
    }
}

/// The configured types, in the page's language.
pub fn accepted(state: &AppState) -> String {
    accepted_labels(&state.config.upload_types, &tr(state, "upload.or", &[]))
}

#[cfg(test)]
mod tests {
    use portico_shared::filetypes::by_extension;

    #[test]
    fn accepted_types_read_as_a_sentence() {
        let types = ["pdf", "jpg", "jpeg", "csv"].map(|e| by_extension(e).unwrap());
        assert_eq!(super::accepted_labels(&types, "or"), "PDF, JPEG or CSV");
        assert_eq!(super::accepted_labels(&types[..1], "or"), "PDF");
    }
}
