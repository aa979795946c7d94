//! Local time for both front ends: the zone stamps are shown in ([`TimeZone`],
//! on jiff), and the layouts they are shown with, Go's as the original
//! client used them: `time.Kitchen` (`3:04PM`) for the TUI's messages,
//! `2006-01-02` for its date separators and `2006-01-02 15:04:05` for the
//! shell.
//!
//! The zone is passed in (the system's when the client runs, a fixed one in
//! tests), never read from the machine behind the caller's back. Stamps are
//! Unix seconds; one outside the years jiff knows (-9999 to 9999) is shown
//! as the nearest time it knows.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::fmt::strtime;
use jiff::tz::Offset;

/// Go's `time.Kitchen`: `3:04PM`.
const KITCHEN: &str = "%-I:%M%p";
/// A date: `2006-01-02`.
const DATE: &str = "%Y-%m-%d";
/// A date and time of day: `2006-01-02 15:04:05`.
const DATE_TIME: &str = "%Y-%m-%d %H:%M:%S";

/// A time zone: the system's, a fixed offset, or a POSIX `TZ` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZone(jiff::tz::TimeZone);

impl TimeZone {
    /// Coordinated Universal Time.
    pub fn utc() -> Self {
        TimeZone(jiff::tz::TimeZone::UTC)
    }

    /// A zone `offset` seconds east of UTC all year (clamped to ±25:59:59).
    pub fn fixed(offset: i32) -> Self {
        let offset = offset.clamp(Offset::MIN.seconds(), Offset::MAX.seconds());
        TimeZone(jiff::tz::TimeZone::fixed(
            Offset::from_seconds(offset).unwrap_or(Offset::UTC),
        ))
    }

    /// A zone from a POSIX `TZ` rule such as `CET-1CEST,M3.5.0,M10.5.0/3`;
    /// `None` if `rule` is not one.
    pub fn posix(rule: &str) -> Option<Self> {
        jiff::tz::TimeZone::posix(rule).ok().map(TimeZone)
    }

    /// The zone of this machine: `TZ` (a zone name, a file or a POSIX rule),
    /// else `/etc/localtime`; UTC when neither can be read.
    pub fn system() -> Self {
        TimeZone(jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC))
    }

    /// The civil date and time of `stamp` in this zone.
    fn civil(&self, stamp: i64) -> DateTime {
        self.0.to_datetime(clamped(stamp))
    }

    /// The local date of `stamp`.
    pub fn date_of(&self, stamp: i64) -> Date {
        self.civil(stamp).date()
    }

    /// `stamp` as Go's `time.Kitchen` in this zone: `3:04PM`.
    pub fn kitchen(&self, stamp: i64) -> String {
        format(KITCHEN, self.civil(stamp))
    }

    /// The local date of `stamp`: `2006-01-02`.
    pub fn date(&self, stamp: i64) -> String {
        format(DATE, self.civil(stamp))
    }

    /// The local date and time of `stamp`: `2006-01-02 15:04:05`; `None`
    /// for a stamp outside the years jiff knows.
    pub fn date_time(&self, stamp: i64) -> Option<String> {
        let at = Timestamp::from_second(stamp).ok()?;
        strtime::format(DATE_TIME, self.0.to_datetime(at)).ok()
    }
}

/// `stamp` (Unix seconds) as a jiff timestamp, clamped to the years jiff
/// knows.
pub(crate) fn clamped(stamp: i64) -> Timestamp {
    Timestamp::from_second(stamp).unwrap_or(if stamp < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// `value` in `layout`. The layouts here hold only what a date and time
/// have, so formatting cannot fail; were it to, the text says so.
fn format(layout: &str, value: DateTime) -> String {
    strtime::format(layout, value).unwrap_or_else(|e| format!("<{e}>"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// 2024-02-29 15:04:05 UTC.
    const LEAP_DAY: i64 = 1_709_219_045;

    #[test]
    fn go_layouts_in_utc() {
        let tz = TimeZone::utc();
        assert_eq!(tz.kitchen(LEAP_DAY), "3:04PM");
        assert_eq!(tz.date(LEAP_DAY), "2024-02-29");
        assert_eq!(tz.date_time(LEAP_DAY).unwrap(), "2024-02-29 15:04:05");
        assert_eq!(tz.kitchen(0), "12:00AM");
        assert_eq!(tz.date(0), "1970-01-01");
        assert_eq!(tz.date_of(0), jiff::civil::date(1970, 1, 1));
        assert_eq!(TimeZone::fixed(3600).kitchen(11 * 3600 + 60), "12:01PM");
        assert_eq!(TimeZone::fixed(-3600).date(0), "1969-12-31");
    }

    #[test]
    fn posix_rules_switch_at_their_instants() {
        let tz = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2024-01-15 12:00 UTC: CET (+1).
        assert_eq!(tz.kitchen(1_705_320_000), "1:00PM");
        // 2024-07-15 12:00 UTC: CEST (+2).
        assert_eq!(tz.kitchen(1_721_044_800), "2:00PM");
        // DST begins 2024-03-31 01:00 UTC.
        assert_eq!(tz.kitchen(1_711_846_799), "1:59AM");
        assert_eq!(tz.kitchen(1_711_846_800), "3:00AM");
        let ny = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        assert_eq!(ny.kitchen(1_721_044_800), "8:00AM");
        let south = TimeZone::posix("<-03>3").unwrap();
        assert_eq!(south.date(0), "1969-12-31");
        assert_eq!(south.kitchen(0), "9:00PM");
        assert!(TimeZone::posix("").is_none());
        assert!(TimeZone::posix("xx").is_none());
    }

    #[test]
    fn any_stamp_is_shown() {
        let tz = TimeZone::fixed(i32::MAX);
        for stamp in [i64::MIN, -1, i64::MAX] {
            assert!(!tz.kitchen(stamp).is_empty());
            assert!(!tz.date(stamp).is_empty());
        }
        // The last day jiff knows in every zone.
        assert_eq!(TimeZone::utc().date(i64::MAX), "9999-12-30");
        assert_eq!(TimeZone::utc().date_time(i64::MAX), None);
    }
}
