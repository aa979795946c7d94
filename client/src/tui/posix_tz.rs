//! POSIX `TZ` rules (`CET-1CEST,M3.5.0,M10.5.0/3`): the footer of TZif
//! files, which gives the offsets after the last listed transition, and the
//! form `TZ` itself may take.

use super::clock::DAY;
use crate::calendar::{civil_from_days, days_from_civil, is_leap};

/// A POSIX `TZ` rule: standard offset, and daylight saving time if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PosixTz {
    /// Standard time offset east of UTC, seconds.
    pub(super) std: i32,
    /// Daylight saving time: offset east of UTC and the two switch rules.
    dst: Option<(i32, Rule, Rule)>,
}

/// When DST starts or ends: a day rule and the local time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule {
    day: Day,
    /// Seconds after local midnight (may be negative or past 24 h).
    time: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Day {
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian1(i64),
    /// `n`: day 0..=365, February 29 counted.
    Julian0(i64),
    /// `Mm.w.d`: weekday `d` (0 Sunday) of week `w` (5 = last) of month `m`.
    Month(i64, i64, i64),
}

impl PosixTz {
    pub(super) fn offset_at(&self, t: i64) -> i32 {
        let Some((dst, start, end)) = &self.dst else {
            return self.std;
        };
        let (year, _, _) = civil_from_days((t + i64::from(self.std)).div_euclid(DAY));
        let begins = start.instant(year) - i64::from(self.std);
        let ends = end.instant(year) - i64::from(*dst);
        let in_dst = if begins < ends {
            begins <= t && t < ends
        } else {
            !(ends <= t && t < begins)
        };
        if in_dst { *dst } else { self.std }
    }
}

impl Rule {
    /// Local seconds since the epoch (as if UTC) of this switch in `year`.
    fn instant(&self, year: i64) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        let leap = is_leap(year);
        let day = match self.day {
            Day::Julian1(n) => jan1 + n - 1 + i64::from(leap && n >= 60),
            Day::Julian0(n) => jan1 + n,
            Day::Month(m, w, d) => {
                let first = days_from_civil(year, m, 1);
                let weekday = (first + 4).rem_euclid(7);
                let mut day = first + (d - weekday).rem_euclid(7) + (w - 1) * 7;
                let next_month = if m == 12 {
                    days_from_civil(year + 1, 1, 1)
                } else {
                    days_from_civil(year, m + 1, 1)
                };
                while day >= next_month {
                    day -= 7;
                }
                day
            }
        };
        day * DAY + self.time
    }
}

/// Parses a POSIX TZ string; `None` if it is not one.
pub(super) fn parse_posix(text: &str) -> Option<PosixTz> {
    let mut p = Cursor {
        s: text.as_bytes(),
        i: 0,
    };
    p.name()?;
    let std = -p.offset()?;
    let std32 = i32::try_from(std).ok()?;
    if p.done() {
        return Some(PosixTz {
            std: std32,
            dst: None,
        });
    }
    p.name()?;
    let dst = if matches!(p.peek(), Some(b',') | None) {
        std + 3600
    } else {
        -p.offset()?
    };
    let (start, end) = if p.done() {
        let start = Rule {
            day: Day::Month(3, 2, 0),
            time: 7200,
        };
        (
            start,
            Rule {
                day: Day::Month(11, 1, 0),
                time: 7200,
            },
        )
    } else {
        p.eat(b',')?;
        let start = p.rule()?;
        p.eat(b',')?;
        (start, p.rule()?)
    };
    if !p.done() {
        return None;
    }
    Some(PosixTz {
        std: std32,
        dst: Some((i32::try_from(dst).ok()?, start, end)),
    })
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }
    fn name(&mut self) -> Option<()> {
        if self.eat(b'<').is_some() {
            while self.peek()? != b'>' {
                self.i += 1;
            }
            self.i += 1;
            return Some(());
        }
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        (self.i - start >= 3).then_some(())
    }
    fn number(&mut self) -> Option<i64> {
        let start = self.i;
        let mut n: i64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            n = n.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            self.i += 1;
        }
        (self.i > start).then_some(n)
    }
    /// `[+-]hh[:mm[:ss]]` in seconds (sign as written).
    fn offset(&mut self) -> Option<i64> {
        let sign = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                -1
            }
            Some(b'+') => {
                self.i += 1;
                1
            }
            _ => 1,
        };
        let mut secs = self.number()? * 3600;
        if self.eat(b':').is_some() {
            secs += self.number()? * 60;
            if self.eat(b':').is_some() {
                secs += self.number()?;
            }
        }
        Some(sign * secs)
    }
    fn rule(&mut self) -> Option<Rule> {
        let day = match self.peek()? {
            b'J' => {
                self.i += 1;
                Day::Julian1(self.number()?.clamp(1, 365))
            }
            b'M' => {
                self.i += 1;
                let m = self.number()?;
                self.eat(b'.')?;
                let w = self.number()?;
                self.eat(b'.')?;
                let d = self.number()?;
                if !(1..=12).contains(&m) || !(1..=5).contains(&w) || d > 6 {
                    return None;
                }
                Day::Month(m, w, d)
            }
            _ => Day::Julian0(self.number()?.clamp(0, 365)),
        };
        let time = if self.eat(b'/').is_some() {
            self.offset()?
        } else {
            7200
        };
        Some(Rule { day, time })
    }
}
