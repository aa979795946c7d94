//! The shortcut keys of the Buffers and Servers lists: `1`-`9`, then
//! `a`-`z`.

/// The shortcut of the `n`-th item (1-based): `1`-`9`, then `a`-`z`.
pub fn shortcut(n: usize) -> char {
    match n {
        0..=9 => char::from(b'0' + n as u8),
        _ => char::from(b'a' + ((n - 10) % 26) as u8),
    }
}

/// The list index a shortcut key stands for (0-based).
pub fn from_shortcut(c: char) -> Option<usize> {
    match c {
        '1'..='9' => Some(c as usize - '1' as usize),
        'a'..='z' => Some(c as usize - 'a' as usize + 9),
        _ => None,
    }
}
