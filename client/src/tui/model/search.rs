//! Finding text: where a search's words occur in a line ([`find`], ignoring
//! case), for the search over buffers in memory and for highlighting the
//! matches on screen.

/// The byte ranges of `text` where `query` occurs, ignoring case, in order
/// and not overlapping; none for an empty query.
pub fn find(text: &str, query: &str) -> Vec<(usize, usize)> {
    let needle: Vec<char> = query.chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let mut k = 0;
    while k < starts.len() {
        let at = starts[k];
        if let Some(end) = match_at(&text[at..], &needle) {
            out.push((at, at + end));
            let next = at + end.max(1);
            k = starts.partition_point(|&s| s < next);
        } else {
            k += 1;
        }
    }
    out
}

/// The length in bytes of the start of `hay` that is `needle` (lowercase),
/// ignoring case.
fn match_at(hay: &str, needle: &[char]) -> Option<usize> {
    let mut want = needle.iter();
    let mut pending = want.next()?;
    for (i, c) in hay.char_indices() {
        for lc in c.to_lowercase() {
            if lc != *pending {
                return None;
            }
            match want.next() {
                Some(n) => pending = n,
                None => return Some(i + c.len_utf8()),
            }
        }
    }
    None
}

/// Whether `text` holds `query`, ignoring case.
pub fn contains(text: &str, query: &str) -> bool {
    !find(text, query).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_match_ignoring_case() {
        assert_eq!(
            find("Hello hello HELLO", "hello"),
            [(0, 5), (6, 11), (12, 17)]
        );
        assert_eq!(find("aaaa", "aa"), [(0, 2), (2, 4)]);
        assert_eq!(find("Grüße, GRÜSSE", "grü"), [(0, 4), (9, 13)]);
        assert_eq!(find("abc", ""), []);
        assert_eq!(find("abc", "abcd"), []);
        assert!(contains("Meet at NOON", "noon"));
        assert!(!contains("Meet at 12", "noon"));
    }
}
