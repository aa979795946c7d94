//! Local time for message stamps without a date-time crate: the zone is read
//! once from `TZ` or `/etc/localtime` (TZif, with the POSIX rule of its footer
//! for times past the last transition) and falls back to UTC.

use std::path::Path;

use super::posix_tz::{PosixTz, parse_posix};
use crate::calendar::civil_from_days;

/// Seconds in a day.
pub(super) const DAY: i64 = 86_400;

/// A time zone: UTC offsets over time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZone {
    /// Transition instants (Unix seconds, ascending) and the offset from then on.
    transitions: Vec<(i64, i32)>,
    /// The offset before the first transition (or always, with no rule).
    initial: i32,
    /// The rule after the last transition.
    rule: Option<PosixTz>,
}

impl TimeZone {
    /// Coordinated Universal Time.
    pub fn utc() -> Self {
        Self::fixed(0)
    }

    /// A zone `offset` seconds east of UTC, all year.
    pub fn fixed(offset: i32) -> Self {
        TimeZone {
            transitions: Vec::new(),
            initial: offset,
            rule: None,
        }
    }

    /// The zone of this machine: `TZ` (a zone name, a file, or a POSIX rule),
    /// else `/etc/localtime`; UTC when neither can be read.
    pub fn local() -> Self {
        match std::env::var("TZ") {
            Ok(tz) if !tz.is_empty() => {
                let name = tz.strip_prefix(':').unwrap_or(&tz);
                let path = if name.starts_with('/') {
                    Path::new(name).to_path_buf()
                } else {
                    Path::new("/usr/share/zoneinfo").join(name)
                };
                std::fs::read(&path)
                    .ok()
                    .and_then(|b| Self::from_tzif(&b))
                    .or_else(|| Self::from_posix(name))
                    .unwrap_or_else(Self::utc)
            }
            _ => std::fs::read("/etc/localtime")
                .ok()
                .and_then(|b| Self::from_tzif(&b))
                .unwrap_or_else(Self::utc),
        }
    }

    /// A zone from a POSIX `TZ` rule such as `CET-1CEST,M3.5.0,M10.5.0/3`.
    pub fn from_posix(text: &str) -> Option<Self> {
        let rule = parse_posix(text)?;
        Some(TimeZone {
            transitions: Vec::new(),
            initial: rule.std,
            rule: Some(rule),
        })
    }

    /// A zone from the bytes of a TZif file (RFC 8536, versions 1 to 4).
    pub fn from_tzif(bytes: &[u8]) -> Option<Self> {
        let (v1, rest) = tzif_block(bytes, 4)?;
        let version = *bytes.get(4)?;
        if version == 0 {
            return Some(v1);
        }
        let (mut v2, footer) = tzif_block(rest, 8)?;
        let footer = std::str::from_utf8(footer).ok()?;
        let rule_text = footer
            .trim_start_matches('\n')
            .split('\n')
            .next()
            .unwrap_or("");
        v2.rule = parse_posix(rule_text);
        Some(v2)
    }

    /// The offset east of UTC, in seconds, at Unix time `t`.
    pub fn offset_at(&self, t: i64) -> i32 {
        match self.transitions.last() {
            Some(&(last, offset)) if t >= last => match &self.rule {
                Some(rule) => rule.offset_at(t),
                None => offset,
            },
            Some(_) => {
                let i = self.transitions.partition_point(|&(at, _)| at <= t);
                match i.checked_sub(1).and_then(|i| self.transitions.get(i)) {
                    Some(&(_, offset)) => offset,
                    None => self.initial,
                }
            }
            None => match &self.rule {
                Some(rule) => rule.offset_at(t),
                None => self.initial,
            },
        }
    }

    /// The local day number of `t` (days since 1970-01-01, local).
    pub fn day(&self, t: i64) -> i64 {
        t.saturating_add(i64::from(self.offset_at(t)))
            .div_euclid(DAY)
    }

    /// `t` as Go's `time.Kitchen` in this zone: `3:04PM`.
    pub fn kitchen(&self, t: i64) -> String {
        let secs = t
            .saturating_add(i64::from(self.offset_at(t)))
            .rem_euclid(DAY);
        let (h, m) = (secs / 3600, (secs % 3600) / 60);
        let half = if h < 12 { "AM" } else { "PM" };
        let h12 = if h % 12 == 0 { 12 } else { h % 12 };
        format!("{h12}:{m:02}{half}")
    }

    /// The local date of `t`: `2006-01-02`.
    pub fn date(&self, t: i64) -> String {
        let (y, m, d) = civil_from_days(self.day(t));
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// Reads one TZif header and data block with `time_size`-byte times; returns
/// the zone and what follows the block.
fn tzif_block(bytes: &[u8], time_size: usize) -> Option<(TimeZone, &[u8])> {
    if bytes.get(..4)? != b"TZif" {
        return None;
    }
    let count = |i: usize| -> Option<usize> {
        let b = bytes.get(20 + 4 * i..24 + 4 * i)?;
        usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok()
    };
    let (isut, isstd, leap, timecnt, typecnt, charcnt) = (
        count(0)?,
        count(1)?,
        count(2)?,
        count(3)?,
        count(4)?,
        count(5)?,
    );
    let data = bytes.get(44..)?;
    let times_len = timecnt.checked_mul(time_size)?;
    let types_at = times_len;
    let info_at = types_at.checked_add(timecnt)?;
    let end = info_at
        .checked_add(typecnt.checked_mul(6)?)?
        .checked_add(charcnt)?
        .checked_add(leap.checked_mul(time_size + 4)?)?
        .checked_add(isstd)?
        .checked_add(isut)?;
    if data.len() < end || typecnt == 0 {
        return None;
    }
    let offset_of = |ty: usize| -> Option<i32> {
        let b = data.get(info_at + 6 * ty..info_at + 6 * ty + 4)?;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut transitions = Vec::with_capacity(timecnt);
    for i in 0..timecnt {
        let b = data.get(i * time_size..(i + 1) * time_size)?;
        let at = if time_size == 8 {
            i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        } else {
            i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let ty = usize::from(*data.get(types_at + i)?);
        transitions.push((at, offset_of(ty)?));
    }
    let zone = TimeZone {
        transitions,
        initial: offset_of(0)?,
        rule: None,
    };
    Some((zone, data.get(end..)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn utc_formats() {
        let tz = TimeZone::utc();
        // 2024-02-29 15:04:05 UTC
        let t = 1_709_219_045;
        assert_eq!(tz.kitchen(t), "3:04PM");
        assert_eq!(tz.date(t), "2024-02-29");
        assert_eq!(tz.kitchen(0), "12:00AM");
        assert_eq!(tz.date(0), "1970-01-01");
        assert_eq!(TimeZone::fixed(3600).kitchen(11 * 3600 + 60), "12:01PM");
    }

    #[test]
    fn posix_rules() {
        let tz = TimeZone::from_posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2024-01-15 12:00 UTC: CET (+1).
        assert_eq!(tz.offset_at(1_705_320_000), 3600);
        // 2024-07-15 12:00 UTC: CEST (+2).
        assert_eq!(tz.offset_at(1_721_044_800), 7200);
        // DST begins 2024-03-31 01:00 UTC.
        assert_eq!(tz.offset_at(1_711_846_799), 3600);
        assert_eq!(tz.offset_at(1_711_846_800), 7200);
        let ny = TimeZone::from_posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        assert_eq!(ny.offset_at(1_721_044_800), -4 * 3600);
        let south = TimeZone::from_posix("<-03>3").unwrap();
        assert_eq!(south.offset_at(0), -3 * 3600);
        assert!(TimeZone::from_posix("").is_none());
        assert!(TimeZone::from_posix("xx").is_none());
    }

    #[test]
    fn reads_system_zone_files() {
        for name in ["Europe/Madrid", "America/New_York", "UTC"] {
            if let Ok(bytes) = std::fs::read(Path::new("/usr/share/zoneinfo").join(name)) {
                let tz = TimeZone::from_tzif(&bytes).unwrap();
                let summer_2040 = 2_225_000_000;
                let expected = match name {
                    "Europe/Madrid" => 7200,
                    "America/New_York" => -4 * 3600,
                    _ => 0,
                };
                assert_eq!(tz.offset_at(summer_2040), expected, "{name}");
            }
        }
    }
}
