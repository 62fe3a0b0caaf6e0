//! The kinds of document clients may upload, known by extension *and* by their first bytes,
//! so a renamed executable is refused as well as a misnamed file. `PORTICO_UPLOAD_TYPES`
//! chooses a subset of [`KNOWN`].

/// A document type Portico can accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileType {
    /// Lower-case extension without the dot, as written in `PORTICO_UPLOAD_TYPES`.
    pub ext: &'static str,
    pub content_type: &'static str,
    /// How the portal names it to people.
    pub label: &'static str,
    sniff: Sniff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sniff {
    Prefix(&'static [u8]),
    /// An ISO media file (`ftyp` box) of one of these brands.
    IsoBrand(&'static [&'static [u8; 4]]),
    /// Text: no NUL bytes, valid UTF-8 (a multi-byte character may be cut at the end).
    Text,
}

const HEIF_BRANDS: &[&[u8; 4]] = &[b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1"];

pub const KNOWN: &[FileType] = &[
    FileType {
        ext: "pdf",
        content_type: "application/pdf",
        label: "PDF",
        sniff: Sniff::Prefix(b"%PDF-"),
    },
    FileType {
        ext: "png",
        content_type: "image/png",
        label: "PNG",
        sniff: Sniff::Prefix(b"\x89PNG\r\n\x1a\n"),
    },
    FileType {
        ext: "jpg",
        content_type: "image/jpeg",
        label: "JPEG",
        sniff: Sniff::Prefix(b"\xff\xd8\xff"),
    },
    FileType {
        ext: "jpeg",
        content_type: "image/jpeg",
        label: "JPEG",
        sniff: Sniff::Prefix(b"\xff\xd8\xff"),
    },
    FileType {
        ext: "heic",
        content_type: "image/heic",
        label: "HEIC",
        sniff: Sniff::IsoBrand(HEIF_BRANDS),
    },
    // Office documents are ZIP containers; looking deeper would mean unzipping.
    FileType {
        ext: "docx",
        content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        label: "Word",
        sniff: Sniff::Prefix(b"PK\x03\x04"),
    },
    FileType {
        ext: "xlsx",
        content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        label: "Excel",
        sniff: Sniff::Prefix(b"PK\x03\x04"),
    },
    FileType {
        ext: "csv",
        content_type: "text/csv; charset=utf-8",
        label: "CSV",
        sniff: Sniff::Text,
    },
    FileType {
        ext: "txt",
        content_type: "text/plain; charset=utf-8",
        label: "text",
        sniff: Sniff::Text,
    },
];

/// The default of `PORTICO_UPLOAD_TYPES`.
pub const DEFAULT_TYPES: &str = "pdf,png,jpg,jpeg,heic,docx,xlsx,csv,txt";

/// How many leading bytes [`FileType::matches`] wants to see.
pub const SNIFF_LEN: usize = 512;

pub fn by_extension(ext: &str) -> Option<&'static FileType> {
    KNOWN.iter().find(|t| t.ext.eq_ignore_ascii_case(ext))
}

/// The extension of a file name, lower-cased, if it has one.
pub fn extension(file_name: &str) -> Option<String> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty() && ext.len() <= 10 && ext.is_ascii())
        .then(|| ext.to_ascii_lowercase())
}

impl FileType {
    /// Whether `head` (the first up to [`SNIFF_LEN`] bytes of a non-empty file) looks like
    /// this type.
    pub fn matches(&self, head: &[u8]) -> bool {
        match self.sniff {
            Sniff::Prefix(magic) => head.starts_with(magic),
            Sniff::IsoBrand(brands) => {
                head.len() >= 12
                    && &head[4..8] == b"ftyp"
                    && brands.iter().any(|b| &head[8..12] == b.as_slice())
            }
            Sniff::Text => {
                !head.contains(&0)
                    && match std::str::from_utf8(head) {
                        Ok(_) => true,
                        // Cut inside a character at the end of the sample: still text.
                        Err(e) => e.error_len().is_none(),
                    }
            }
        }
    }
}

/// Parses `PORTICO_UPLOAD_TYPES`: a comma-separated list of extensions from [`KNOWN`].
pub fn parse_list(text: &str) -> Result<Vec<&'static FileType>, String> {
    let mut types = Vec::new();
    for ext in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let ext = ext.trim_start_matches('.');
        let known = by_extension(ext).ok_or_else(|| {
            let names: Vec<&str> = KNOWN.iter().map(|t| t.ext).collect();
            format!(
                "unknown file type {ext:?}; known types are {}",
                names.join(", ")
            )
        })?;
        if !types.contains(&known) {
            types.push(known);
        }
    }
    if types.is_empty() {
        return Err("expected a list of file types like pdf,png,jpg".into());
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        let pdf = by_extension("PDF").unwrap();
        assert!(pdf.matches(b"%PDF-1.7\n..."));
        assert!(!pdf.matches(b"MZ\x90\x00"));
        let heic = by_extension("heic").unwrap();
        assert!(heic.matches(b"\0\0\0\x18ftypheic\0\0\0\0"));
        assert!(!heic.matches(b"\0\0\0\x18ftypisom\0\0\0\0"));
        let txt = by_extension("txt").unwrap();
        assert!(txt.matches("héllo, wörld".as_bytes()));
        assert!(txt.matches(&"é".as_bytes()[..1]));
        assert!(!txt.matches(b"a\0b"));
        assert!(!txt.matches(b"\xff\xfe\xfd rest"));
    }

    #[test]
    fn lists_and_extensions() {
        let types = parse_list(" pdf, .PNG ,pdf").unwrap();
        assert_eq!(types.len(), 2);
        assert!(parse_list("pdf,exe").unwrap_err().contains("\"exe\""));
        assert!(parse_list(" , ").is_err());
        assert!(parse_list(DEFAULT_TYPES).is_ok());
        assert_eq!(extension("Report.Final.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension(".bashrc"), None);
        assert_eq!(extension("README"), None);
    }
}
