//! Go time texts: reading the stamps the original client's SQLite driver
//! wrote (`2026-11-25 17:50:05+00:00`, with optional fractional seconds and
//! any offset) and writing Go's `time.RFC850` layout for exports, on jiff.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::fmt::strtime::{self, BrokenDownTime};
use jiff::tz::Offset;

use crate::time::clamped;

/// The date and time layouts a stamp may start with, longest first (the
/// first whose prefix matches wins; fractional seconds are optional).
const DATE_TIME_LAYOUTS: [&str; 5] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
];

/// The offset layouts after the time: `±hh:mm`, `±hhmm`, `±hh`.
const OFFSET_LAYOUTS: [&str; 3] = ["%:z", "%z", "%:::z"];

/// Go's `time.RFC850`, in UTC: `Monday, 02-Jan-06 15:04:05 UTC`.
const RFC850: &str = "%A, %d-%b-%y %H:%M:%S UTC";

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
    let (civil, rest) = DATE_TIME_LAYOUTS.iter().find_map(|layout| {
        let (parsed, used) = BrokenDownTime::parse_prefix(layout, s).ok()?;
        let rest = s.get(used..)?;
        // A time that is there must be read whole: `2026-11-25 25:00` is
        // no date at midnight.
        if parsed.hour().is_none() && starts_with_time(rest) {
            return None;
        }
        Some((date_time(&parsed)?, rest))
    })?;
    let rest = rest.trim_start_matches(' ');
    let offset = if rest.starts_with(['+', '-']) {
        OFFSET_LAYOUTS
            .iter()
            .find_map(|layout| BrokenDownTime::parse_prefix(layout, rest).ok()?.0.offset())?
    } else {
        // `Z`, a zone name, or nothing: UTC.
        Offset::UTC
    };
    offset.to_timestamp(civil).ok().map(Timestamp::as_second)
}

/// Whether `rest` (what follows a date) starts with a time of day: a space
/// or `T`, then a digit.
fn starts_with_time(rest: &str) -> bool {
    let mut chars = rest.chars();
    matches!(chars.next(), Some(' ' | 'T')) && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// The date and time of a parsed prefix (midnight when only the date was
/// there); `None` for a date or time that does not exist.
fn date_time(parsed: &BrokenDownTime) -> Option<DateTime> {
    let date = parsed.to_date().ok()?;
    if parsed.hour().is_none() {
        return Some(date.to_datetime(jiff::civil::Time::midnight()));
    }
    parsed.to_datetime().ok()
}

/// Formats Unix seconds in Go's `time.RFC850` layout, in UTC, as the original's
/// recovery export writes stamps: `Wednesday, 25-Nov-26 17:50:05 UTC`.
pub fn format_rfc850(stamp: i64) -> String {
    let at = clamped(stamp);
    strtime::format(RFC850, at).unwrap_or_else(|_| format!("@{stamp}"))
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
