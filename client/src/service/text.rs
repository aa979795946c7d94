//! Texts longer than one RSA block: splitting at whitespace (on character
//! boundaries inside a word too long for one block), and
//! the stamps their parts are sent with.

use std::time::{SystemTime, UNIX_EPOCH};

/// Splits `text` into pieces of at most `max` bytes, in order;
/// concatenated they give `text` back. A piece ends after the last
/// whitespace that fits (the whitespace stays at the end of the piece), so
/// that words are not cut; a word longer than a piece is cut on a character
/// boundary. An empty text gives no piece. A character longer than `max`
/// (only possible with `max < 4`) becomes a piece of its own.
pub fn split_text(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let (head, tail) = rest.split_at(cut_point(rest, max));
        parts.push(head);
        rest = tail;
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts
}

/// Where to cut `text` (longer than `max` bytes) for a first piece of at
/// most `max` bytes: after its last whitespace, or where a word ends
/// exactly at `max`; else at the last character boundary; at least one
/// whole character.
fn cut_point(text: &str, max: usize) -> usize {
    let mut hard = max.min(text.len());
    while hard > 0 && !text.is_char_boundary(hard) {
        hard -= 1;
    }
    if hard == 0 {
        return text.chars().next().map_or(text.len(), char::len_utf8);
    }
    if text[hard..].starts_with(char::is_whitespace) {
        return hard;
    }
    text[..hard]
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(hard, |(i, c)| i + c.len_utf8())
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
    fn splits_at_whitespace_keeping_words_whole() {
        assert_eq!(split_text("aaa bbb ccc", 6), ["aaa ", "bbb ", "ccc"]);
        assert_eq!(split_text("aaa bbb ccc", 7), ["aaa bbb", " ccc"]);
        assert_eq!(split_text("aaa\nbbb", 5), ["aaa\n", "bbb"]);
        // A word longer than a piece is cut where the piece is full.
        assert_eq!(split_text("aa bbbbbbbbbb", 6), ["aa ", "bbbbbb", "bbbb"]);
        assert_eq!(split_text("ééé ééé", 5), ["éé", "é ", "éé", "é"]);

        // The case: many short words at the real size of a part.
        let words: Vec<String> = (0..200).map(|i| format!("word{i:03}")).collect();
        let text = words.join(" ");
        let parts = split_text(&text, 446);
        assert!(parts.len() > 2);
        assert_eq!(parts.concat(), text);
        for (n, p) in parts.iter().enumerate() {
            assert!(p.len() <= 446);
            if n + 1 < parts.len() {
                assert!(p.ends_with(' '), "part {n} ends inside a word: {p:?}");
            }
            for w in p.split_whitespace() {
                assert!(words.iter().any(|x| x == w), "part {n} cuts a word: {w:?}");
            }
        }
    }

    #[test]
    fn part_stamps_increase() {
        assert_eq!(part_stamps(100, 0, 3), (vec![100, 101, 102], 102));
        assert_eq!(part_stamps(100, 102, 2), (vec![102, 103], 103));
        assert_eq!(part_stamps(100, 50, 1), (vec![100], 100));
        assert_eq!(part_stamps(100, 50, 0), (vec![], 50));
    }
}
