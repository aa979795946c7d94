//! Texts longer than one RSA block: splitting on character boundaries, and
//! the stamps their parts are sent with.

use std::time::{SystemTime, UNIX_EPOCH};

/// Splits `text` into pieces of at most `max` bytes, cutting only on
/// character boundaries, in order; concatenated they give `text` back. An
/// empty text gives no piece. A character longer than `max` (only possible
/// with `max < 4`) becomes a piece of its own.
pub fn split_text(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while cut > 0 && !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts
}

/// The current Unix time in seconds.
pub(crate) fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The stamps of the `parts` parts of one text: strictly increasing from
/// `max(now, last)`, so that a server which delivers stored messages in stamp
/// order only (the original) keeps them in order. Returns the stamps and the
/// new `last`.
pub(crate) fn part_stamps(now: i64, last: i64, parts: usize) -> (Vec<i64>, i64) {
    let base = now.max(last);
    let stamps: Vec<i64> = (0..parts)
        .map(|i| base.saturating_add(i64::try_from(i).unwrap_or(i64::MAX)))
        .collect();
    let new_last = stamps.last().copied().unwrap_or(last);
    (stamps, new_last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_char_boundaries_in_order() {
        let text = "añb€c".repeat(100);
        for max in [1usize, 2, 3, 4, 7, 446] {
            let parts = split_text(&text, max);
            assert_eq!(parts.concat(), text);
            for p in &parts {
                assert!(p.len() <= max.max(3), "{max}: {p:?}");
                assert!(!p.is_empty());
            }
        }
        assert!(split_text("", 446).is_empty());
        assert_eq!(split_text("abc", 446), vec!["abc"]);
        let long = "x".repeat(1000);
        let parts = split_text(&long, 446);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [446, 446, 108]
        );
    }

    #[test]
    fn part_stamps_increase() {
        assert_eq!(part_stamps(100, 0, 3), (vec![100, 101, 102], 102));
        assert_eq!(part_stamps(100, 102, 2), (vec![102, 103], 103));
        assert_eq!(part_stamps(100, 50, 1), (vec![100], 100));
        assert_eq!(part_stamps(100, 50, 0), (vec![], 50));
    }
}
