//! The cells of the generated files: numbers, times of day, dates and timestamps, company
//! names and CRM ids, and the atomic write of small text files. No randomness here.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::base::files::write_atomic;
use crate::error::Result;

/// Seconds in a day.
pub(super) const DAY: u32 = 86_400;

pub(super) fn push_num(buf: &mut Vec<u8>, mut n: u32) {
    let (mut digits, mut i) = ([0u8; 10], 10);
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Appends `HH:MM:SS` for `t` seconds into a day.
pub(super) fn push_time(buf: &mut Vec<u8>, t: u32) {
    let mut text = *b"00:00:00";
    for (at, v) in [(0, t / 3600), (3, t / 60 % 60), (6, t % 60)] {
        text[at] += (v / 10) as u8;
        text[at + 1] += (v % 10) as u8;
    }
    buf.extend_from_slice(&text);
}

pub(super) fn date(start: NaiveDate, day: u32) -> NaiveDate {
    start + chrono::Days::new(u64::from(day))
}

pub(super) fn timestamp(start: NaiveDate, day: u32, sec: u32) -> String {
    let mut text = date(start, day)
        .format("%Y-%m-%dT")
        .to_string()
        .into_bytes();
    push_time(&mut text, sec);
    text.push(b'Z');
    String::from_utf8_lossy(&text).into_owned()
}

/// A made-up company name for account number `account`.
pub(super) fn company(account: u32) -> String {
    const A: &str =
        "Acme|Globex|Initech|Umbrella|Hooli|Vandelay|Stark|Wayne|Tyrell|Soylent|Cyberdyne|Aperture|Gringotts|\
        Wonka|Oscorp|Monarch|Nakatomi|Massive|Dunder|Prestige|Sterling|Pied Piper|Blue Sun|Virtucon|Zorg|Bluth|\
        Kramerica|Duff|Ollivander|Nimbus|Northwind|Contoso|Fabrikam|Tailspin|Adatum|Lucerne|Litware|Proseware|\
        Wingtip|Fourth Coffee";
    const B: &str = "Corp|Labs|Analytics|Group|Systems|Partners|Health|Retail|Logistics|Media";
    let (a, b, n) = (
        account as usize * 7 % 40,
        account as usize / 40 % 10,
        account / 400,
    );
    let name = format!(
        "{} {}",
        A.split('|').nth(a).unwrap_or("Acme"),
        B.split('|').nth(b).unwrap_or("Corp")
    );
    if n == 0 {
        name
    } else {
        format!("{name} {}", n + 1)
    }
}

/// A valid 18-character Salesforce Contact id: "003", 12 of the `drawn` characters, and the
/// case-checksum suffix (the last 3 drawn characters are not used).
pub(super) fn contact_id(drawn: &[u8; 15]) -> String {
    let drawn = format!("003{}", String::from_utf8_lossy(drawn));
    crate::list::crm::salesforce_id18(drawn.get(..15).unwrap_or_default()).unwrap_or(drawn)
}

/// Writes each (file name, text) into `out_dir` (atomically) and adds its path to `files`.
pub(super) fn write_texts(
    out_dir: &Path,
    texts: &[(&str, &str)],
    files: &mut Vec<PathBuf>,
) -> Result<()> {
    for (name, body) in texts {
        let path = out_dir.join(name);
        write_atomic(&path, body.as_bytes())?;
        files.push(path);
    }
    Ok(())
}
