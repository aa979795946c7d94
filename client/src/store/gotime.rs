//! Go time texts: reading the stamps the original client's SQLite driver
//! wrote (`2026-11-25 17:50:05+00:00`, with optional fractional seconds and
//! any offset) and writing Go's `time.RFC850` layout for exports.

use crate::calendar::{civil_from_days, days_from_civil, days_in_month};

const DAY: i64 = 86_400;

/// Reads a stamp as the original client's go-sqlite3 driver stores a Go
/// `time.Time` and returns it in Unix seconds (fractions dropped).
///
/// Accepts `YYYY-MM-DD[( |T)hh:mm[:ss[.frac]]][ ][Z|±hh:mm|±hhmm|±hh]`, with
/// anything after the offset ignored (Go's `String()` adds ` UTC` or a
/// monotonic reading ` m=+…`); no offset means UTC, as go-sqlite3 reads it. A
/// bare integer is taken as Unix seconds. `None` if the text is none of these.
pub fn parse_go_time(text: &str) -> Option<i64> {
    let s = text.trim();
    if let Ok(seconds) = s.parse::<i64>() {
        return Some(seconds);
    }
    let mut p = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let year = p.number(4)?;
    p.expect(b'-')?;
    let month = p.number(2)?;
    p.expect(b'-')?;
    let day = p.number(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (mut hour, mut minute, mut second) = (0, 0, 0);
    if matches!(p.peek(), Some(b' ' | b'T')) && p.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
        p.i += 1;
        hour = p.number(2)?;
        p.expect(b':')?;
        minute = p.number(2)?;
        if p.peek() == Some(b':') {
            p.i += 1;
            second = p.number(2)?;
            if matches!(p.peek(), Some(b'.' | b',')) {
                p.i += 1;
                let start = p.i;
                while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                    p.i += 1;
                }
                if p.i == start {
                    return None;
                }
            }
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    while p.peek() == Some(b' ') {
        p.i += 1;
    }
    let offset = match p.peek() {
        Some(sign @ (b'+' | b'-')) => {
            p.i += 1;
            let hours = p.number(2)?;
            if p.peek() == Some(b':') {
                p.i += 1;
            }
            let minutes = if p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.number(2)?
            } else {
                0
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if sign == b'-' { -offset } else { offset }
        }
        // `Z`, a zone name, or nothing: UTC.
        _ => 0,
    };
    let days = days_from_civil(year, month, day);
    Some(days * DAY + hour * 3600 + minute * 60 + second - offset)
}

/// Formats Unix seconds in Go's `time.RFC850` layout, in UTC, as the original's
/// recovery export writes stamps: `Wednesday, 25-Nov-26 17:50:05 UTC`.
pub fn format_rfc850(stamp: i64) -> String {
    const WEEKDAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = stamp.div_euclid(DAY);
    let secs = stamp.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS
        .get(usize::try_from(days.rem_euclid(7)).unwrap_or(0))
        .copied()
        .unwrap_or("Thursday");
    let month_name = MONTHS
        .get(usize::try_from(month - 1).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{weekday}, {day:02}-{month_name}-{:02} {:02}:{:02}:{:02} UTC",
        year.rem_euclid(100),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.b.get(self.i + ahead).copied()
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }

    /// Exactly `len` ASCII digits.
    fn number(&mut self, len: usize) -> Option<i64> {
        let digits = self.b.get(self.i..self.i + len)?;
        let mut n = 0i64;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(d - b'0');
        }
        self.i += len;
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_sqlite3_layouts() {
        // 2026-11-25 17:50:05 UTC
        let t = 1_795_629_005;
        assert_eq!(parse_go_time("2026-11-25 17:50:05+00:00"), Some(t));
        assert_eq!(
            parse_go_time("2026-11-25 17:50:05.123456789+00:00"),
            Some(t)
        );
        assert_eq!(parse_go_time("2026-11-25 19:50:05.5+02:00"), Some(t));
        assert_eq!(parse_go_time("2026-11-25 12:50:05-05:00"), Some(t));
        assert_eq!(parse_go_time("2026-11-25T17:50:05Z"), Some(t));
        assert_eq!(parse_go_time("2026-11-25 17:50:05"), Some(t));
        assert_eq!(parse_go_time("2026-11-25 19:50:05 +0200 CEST"), Some(t));
        assert_eq!(
            parse_go_time("2026-11-25 17:50:05.1 +0000 UTC m=+0.001"),
            Some(t)
        );
        assert_eq!(parse_go_time("2026-11-25 17:50"), Some(t - 5));
        assert_eq!(
            parse_go_time("2026-11-25"),
            Some(t - 17 * 3600 - 50 * 60 - 5)
        );
        assert_eq!(parse_go_time("1795629005"), Some(t));
        assert_eq!(parse_go_time("1970-01-01 00:00:00+00:00"), Some(0));
        assert_eq!(
            parse_go_time("2024-02-29 00:00:00+00:00"),
            Some(1_709_164_800)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "2026-11-25 25:00",
        ] {
            assert_eq!(parse_go_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc850() {
        assert_eq!(
            format_rfc850(1_795_629_005),
            "Wednesday, 25-Nov-26 17:50:05 UTC"
        );
        assert_eq!(format_rfc850(0), "Thursday, 01-Jan-70 00:00:00 UTC");
        assert_eq!(format_rfc850(-1), "Wednesday, 31-Dec-69 23:59:59 UTC");
        assert_eq!(
            format_rfc850(951_782_400),
            "Tuesday, 29-Feb-00 00:00:00 UTC"
        );
    }
}
