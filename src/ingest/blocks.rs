//! A text file (plain or gzipped) as consecutive blocks of whole lines, read and
//! decompressed on a thread of its own while the caller parses the block before; and what
//! the CSV and NDJSON readers share to parse a block's parts side by side and join their
//! rows in order.
//!
//! Every block but the last ends with `\n`, so a reader can split a block into parts at
//! line ends and parse the parts side by side. At most three blocks are in memory at once
//! (one being filled, one waiting, one being parsed): the file is never held whole.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::thread::JoinHandle;

use polars::prelude::*;
use rayon::prelude::*;

use super::rejects::Rejects;
use crate::error::{Error, Result};

/// The frame's column holding each row's source line (1 = the header line).
pub const LINE: &str = "line";

/// How many bytes a block holds (more when a line is longer).
pub const BLOCK_BYTES: usize = 16 << 20;

/// The bytes of a file, decompressed when it starts with the gzip magic bytes or its
/// name ends in `.gz`.
pub fn open_bytes(path: &Path) -> Result<Box<dyn Read + Send>> {
    let mut file = File::open(path).map_err(|e| Error::read(path, e))?;
    let mut magic = [0u8; 2];
    let gz_magic = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    file.rewind().map_err(|e| Error::read(path, e))?;
    let gz = gz_magic || path.to_string_lossy().to_lowercase().ends_with(".gz");
    // The bytes from disk count towards the progress bar.
    let file = super::progress::Counted(file);
    Ok(if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            1 << 16,
            file,
        )))
    } else {
        Box::new(file)
    })
}

/// A damaged compressed file's error with what to do about it: the same file fails every
/// night until it is fetched again or set aside.
fn damaged_hint(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    if !(text.contains("deflate stream") || text.contains("gzip header")) {
        return e;
    }
    std::io::Error::new(
        e.kind(),
        format!(
            "{text} (the compressed file is damaged, perhaps cut short in transfer: fetch it \
             again, or, in a folder, rename it to start with `_` to read the others without it)"
        ),
    )
}

/// The blocks of one file, in order.
pub struct Blocks {
    path: PathBuf,
    rx: Receiver<std::io::Result<Vec<u8>>>,
    /// Parsed blocks go back to the reader to be filled again: the same few buffers
    /// take every block, instead of fresh memory (page faults) for each.
    spare: Sender<Vec<u8>>,
    reader: Option<JoinHandle<()>>,
}

impl Blocks {
    /// Starts reading `path` in blocks of about `block_bytes`.
    pub fn open(path: &Path, block_bytes: usize) -> Result<Self> {
        let source = open_bytes(path)?;
        let (tx, rx) = sync_channel(1);
        let (spare, spares) = channel::<Vec<u8>>();
        let block_bytes = block_bytes.max(1);
        let reader = std::thread::Builder::new()
            .name("churnrisk-read".into())
            .spawn(move || {
                let mut source = source;
                let mut carry = Vec::new();
                loop {
                    let mut block = spares.try_recv().unwrap_or_default();
                    block.clear();
                    let filled = next_block(&mut source, &mut carry, block_bytes, block);
                    let (block, eof) = match filled {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    if !block.is_empty() && tx.send(Ok(block)).is_err() {
                        return; // the parser stopped early
                    }
                    if eof {
                        return;
                    }
                }
            })
            .map_err(|e| Error::read(path, e))?;
        Ok(Blocks {
            path: path.into(),
            rx,
            spare,
            reader: Some(reader),
        })
    }

    /// Hands a parsed block back for the reader to fill again.
    pub fn recycle(&self, block: Vec<u8>) {
        // The reader may have finished: the block is then simply freed.
        let _ = self.spare.send(block);
    }

    /// The next block, or `None` after the last.
    pub fn next_block(&mut self) -> Result<Option<Vec<u8>>> {
        match self.rx.recv() {
            Ok(Ok(block)) => Ok(Some(block)),
            Ok(Err(e)) => Err(Error::read(&self.path, damaged_hint(e))),
            Err(_) => {
                // The reader is done; a panic in it is reported as a read error of the file.
                if let Some(handle) = self.reader.take() {
                    if handle.join().is_err() {
                        return Err(Error::read(
                            &self.path,
                            std::io::Error::other("the reading thread stopped unexpectedly"),
                        ));
                    }
                }
                Ok(None)
            }
        }
    }
}

/// Reads the next block into `block` (empty, perhaps with room): `carry` (the previous
/// read's unfinished line) and at least `size` more bytes, cut after the last `\n` (the
/// rest is carried). A block with no line end grows until it has one or the file ends.
/// Returns the block and whether the file has ended.
fn next_block(
    source: &mut impl Read,
    carry: &mut Vec<u8>,
    size: usize,
    mut block: Vec<u8>,
) -> std::io::Result<(Vec<u8>, bool)> {
    // Room for the carry, the read and read_to_end's probe, so the block is not moved
    // (up to 1 GiB at once: a larger block grows as it is read).
    block.reserve(carry.len() + size.min(1 << 30) + (64 << 10));
    block.extend_from_slice(carry);
    carry.clear();
    loop {
        let want = size as u64;
        let got = source.by_ref().take(want).read_to_end(&mut block)?;
        if (got as u64) < want {
            return Ok((block, true));
        }
        if let Some(end) = memchr::memrchr(b'\n', &block) {
            carry.extend_from_slice(&block[end + 1..]);
            block.truncate(end + 1);
            return Ok((block, false));
        }
    }
}

/// Splits `text` into at most `parts` consecutive ranges of about equal size, each but
/// the last ending just after a `\n`.
pub fn split_at_lines(text: &[u8], parts: usize) -> Vec<std::ops::Range<usize>> {
    let target = text.len().div_ceil(parts.max(1)).max(1);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    while start < text.len() {
        let nominal = start + target;
        let end = if nominal >= text.len() {
            text.len()
        } else {
            match memchr::memchr(b'\n', &text[nominal..]) {
                Some(i) => nominal + i + 1,
                None => text.len(),
            }
        };
        out.push(start..end);
        start = end;
    }
    out
}

/// One part of a block to parse: its bytes, the source line it starts on and the line
/// ends in it (an upper bound of its rows).
pub struct PartPlan {
    pub range: std::ops::Range<usize>,
    pub first_line: u64,
    pub newlines: u64,
}

/// Cuts `block`, whose first line is source line `line`, into at most `parts` parts.
pub fn plan_parts(block: &[u8], parts: usize, line: u64) -> Vec<PartPlan> {
    let ranges = split_at_lines(block, parts);
    let newlines: Vec<u64> = ranges
        .par_iter()
        .map(|r| memchr::memchr_iter(b'\n', &block[r.clone()]).count() as u64)
        .collect();
    let mut first_line = line;
    ranges
        .into_iter()
        .zip(newlines)
        .map(|(range, newlines)| {
            let plan = PartPlan {
                range,
                first_line,
                newlines,
            };
            first_line += newlines;
            plan
        })
        .collect()
}

/// The rows one part of a text file yielded: its text columns, each row's source line,
/// and the rows it set aside.
pub struct PartRows {
    pub columns: Vec<StringChunkedBuilder>,
    pub lines: Vec<i64>,
    pub rejects: Rejects,
}

impl PartRows {
    /// Empty columns `names` with room for `rows`.
    pub fn new<'a>(names: impl Iterator<Item = &'a str>, rows: usize) -> Self {
        PartRows {
            columns: names
                .map(|n| StringChunkedBuilder::new(n.into(), rows))
                .collect(),
            lines: Vec::with_capacity(rows),
            rejects: Rejects::default(),
        }
    }
}

/// Joins the parts' rows in order: each column and [`LINE`] in one chunk per part, then
/// every column joined into one chunk on the threads (polars' row-wise steps would
/// otherwise join them later, one column after the other). `keep(i)` says which columns
/// go into the frame; the parts' rejects are appended to `rejects` in order.
pub fn join_parts(
    parts: Vec<PartRows>,
    width: usize,
    keep: impl Fn(usize) -> bool,
    rejects: &mut Rejects,
) -> Result<DataFrame> {
    let mut columns: Vec<Option<StringChunked>> = vec![None; width];
    let mut lines = Int64Chunked::from_vec(LINE.into(), Vec::new());
    for part in parts {
        for (column, builder) in columns.iter_mut().zip(part.columns) {
            let chunk = builder.finish();
            match column {
                Some(c) => c.append_owned(chunk)?,
                None => *column = Some(chunk),
            }
        }
        lines.append_owned(Int64Chunked::from_vec(LINE.into(), part.lines))?;
        rejects.append(part.rejects);
    }
    let height = lines.len();
    let mut out: Vec<Column> = columns
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .filter_map(|(_, c)| c.map(IntoColumn::into_column))
        .collect();
    out.push(lines.into_column());
    let mut df = DataFrame::new(height, out)?;
    df.rechunk_mut_par();
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_end_at_line_ends_and_add_up_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..500)
            .map(|i| format!("line {i} {}\n", "x".repeat(i % 37)))
            .collect();
        let text = format!("{text}last line without end");
        for (name, gz) in [("t.txt", false), ("t.txt.gz", true)] {
            let p = dir.path().join(name);
            if gz {
                let mut w = flate2::write::GzEncoder::new(
                    File::create(&p).unwrap(),
                    flate2::Compression::fast(),
                );
                std::io::Write::write_all(&mut w, text.as_bytes()).unwrap();
                w.finish().unwrap();
            } else {
                std::fs::write(&p, &text).unwrap();
            }
            for size in [1, 7, 100, 1 << 20] {
                let mut blocks = Blocks::open(&p, size).unwrap();
                let mut all = Vec::new();
                let mut n = 0;
                while let Some(b) = blocks.next_block().unwrap() {
                    all.extend_from_slice(&b);
                    n += 1;
                    if all.len() < text.len() {
                        assert_eq!(b.last(), Some(&b'\n'));
                    }
                    blocks.recycle(b);
                }
                assert_eq!(all, text.as_bytes(), "{name} {size}");
                assert!(n >= 1);
            }
        }
    }

    #[test]
    fn gzip_is_known_by_its_magic_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("1700000000.events");
        let mut w =
            flate2::write::GzEncoder::new(File::create(&p).unwrap(), flate2::Compression::fast());
        std::io::Write::write_all(&mut w, b"{\"a\":1}\n").unwrap();
        w.finish().unwrap();
        let mut text = String::new();
        open_bytes(&p).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"a\":1}\n");
    }

    #[test]
    fn parts_end_after_line_ends() {
        let text = b"aa\nbbbb\nc\n\ndddddd\ne";
        for parts in 1..8 {
            let ranges = split_at_lines(text, parts);
            assert_eq!(ranges.first().unwrap().start, 0);
            assert_eq!(ranges.last().unwrap().end, text.len());
            for w in ranges.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(text[w[0].end - 1], b'\n');
            }
            assert!(ranges.len() <= parts);
        }
        assert!(split_at_lines(b"", 4).is_empty());
    }
}
