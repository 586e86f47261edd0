//! CSV cells and tables as spreadsheets and importers read them: RFC 4180 with CRLF,
//! written atomically, free text guarded against formula injection.

use std::path::Path;

use crate::base::files::write_atomic;
use crate::error::{Error, Result};

/// Writes a CSV table (RFC 4180, CRLF) atomically. Cells are written as given: callers
/// neutralize their text cells.
pub fn write_table<R, C>(
    path: &Path,
    header: &[impl AsRef<[u8]>],
    rows: impl IntoIterator<Item = R>,
) -> Result<()>
where
    R: IntoIterator<Item = C>,
    C: AsRef<[u8]>,
{
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let io = |e: csv::Error| Error::write(path, std::io::Error::other(e));
    w.write_record(header).map_err(io)?;
    for row in rows {
        w.write_record(row).map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::write(path, std::io::Error::other(e.to_string())))?;
    write_atomic(path, &bytes)
}

/// Neutralizes a text cell against spreadsheet formula injection (OWASP): a cell starting
/// with `=`, `+`, `-`, `@`, tab, CR or LF gets a leading `'`.
///
/// Only free text is neutralized (reasons, play rules, accounts, plans, reject details).
/// Key cells — the ones an importer matches on: `user_id`, `email`, `crm_id`, the CRM
/// files' id columns — are written as they are, or an upsert on `+44` would look for `'+44` and miss;
/// `list::write::formula_like_keys` counts those that a spreadsheet would read as a formula so the
/// night can say so.
pub fn neutralize(s: &str) -> String {
    neutralized(s).into_owned()
}

/// [`neutralize`]d, borrowing the cell when it needs no change.
pub fn neutralized(s: &str) -> std::borrow::Cow<'_, str> {
    match formula_like(s) {
        true => format!("'{s}").into(),
        false => s.into(),
    }
}

/// Whether a spreadsheet would read the cell as a formula (its first character).
pub fn formula_like(s: &str) -> bool {
    matches!(
        s.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n')
    )
}

/// A CSV file with a header: its column names and a reader of its records.
pub fn read_with_header(
    path: &Path,
) -> std::result::Result<(csv::Reader<std::fs::File>, Vec<String>), csv::Error> {
    let mut r = csv::Reader::from_path(path)?;
    let header = r.headers()?.iter().map(String::from).collect();
    Ok((r, header))
}

/// Where column `name` is in `header`.
pub fn column_index(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralizes_formula_starts_only() {
        for bad in ["=SUM(A1)", "+1", "-2", "@x", "\tx", "\rx", "\nx"] {
            assert!(neutralize(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralize("user 1"), "user 1");
        assert_eq!(neutralize(""), "");
    }
}
