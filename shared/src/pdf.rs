//! A small writer of well-formed text PDFs (Letter size, Helvetica, one text block a page):
//! the documents the demo asks its clients to sign, and those the tests send. Not a general
//! PDF library: text only, and characters outside printable ASCII become `?`.

/// A PDF with one page per entry of `pages`; each entry's lines (split on `\n`) are set from
/// the top of its page.
pub fn text_pdf(pages: &[String]) -> Vec<u8> {
    let page_count = pages.len().max(1);
    // Objects: 1 catalog, 2 page tree, 3 font, then a page and its content stream per page.
    let page_id = |index: usize| 4 + 2 * index;
    let kids: Vec<String> = (0..page_count)
        .map(|i| format!("{} 0 R", page_id(i)))
        .collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {page_count} >>",
            kids.join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    for index in 0..page_count {
        let text = pages.get(index).map(String::as_str).unwrap_or_default();
        let content = page_content(text);
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {} 0 R \
             /Resources << /Font << /F1 3 0 R >> >> >>",
            page_id(index) + 1
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The content stream of one page: the first line as a heading, the rest as body text.
fn page_content(text: &str) -> String {
    let mut content = String::from("BT /F1 24 Tf 72 720 Td 28 TL");
    for (n, line) in text.lines().enumerate() {
        if n == 1 {
            content.push_str(" /F1 12 Tf 16 TL T*");
        }
        content.push_str(&format!(" ({}) '", escape(line)));
    }
    content.push_str(" ET");
    content
}

/// A PDF literal string's text: backslash and parentheses escaped, the rest printable ASCII.
fn escape(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .fold(String::new(), |mut out, c| {
            if matches!(c, '\\' | '(' | ')') {
                out.push('\\');
            }
            out.push(c);
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_counted_and_text_is_escaped() {
        let pdf =
            String::from_utf8(text_pdf(&["One (1)\nback\\slash é".into(), "Two".into()])).unwrap();
        assert!(pdf.starts_with("%PDF-1.4\n"));
        assert!(pdf.contains("/Count 2"));
        assert!(pdf.contains("(One \\(1\\)) '"));
        assert!(pdf.contains("(back\\\\slash ?) '"));
        assert!(pdf.ends_with("%%EOF\n"));
    }

    #[test]
    fn the_cross_reference_table_points_at_each_object() {
        let pdf = text_pdf(&["A".into(), "B".into(), "C".into()]);
        let text = String::from_utf8_lossy(&pdf);
        let xref = text.find("xref\n").unwrap();
        let entries: Vec<usize> = text[xref..]
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .map(|l| l[..10].parse().unwrap())
            .collect();
        assert_eq!(entries.len(), 3 + 2 * 3);
        for (i, offset) in entries.iter().enumerate() {
            assert!(text[*offset..].starts_with(&format!("{} 0 obj\n", i + 1)));
        }
    }
}
