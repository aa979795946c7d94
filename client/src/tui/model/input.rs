//! A small multi-line text editor: the input box and the popups' fields.
//! The cursor is a byte offset that always sits on a character boundary.

/// The longest text the input takes, in characters (the protocol's longest
/// argument).
pub const MAX_INPUT_CHARS: usize = 2047;

/// Editable text with a cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Input {
    text: String,
    cursor: usize,
}

impl Input {
    /// An empty input.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor, a byte offset into [`text`](Self::text).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether there is no text.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Replaces the text; the cursor goes to its end.
    pub fn set(&mut self, text: &str) {
        self.text = text.chars().take(MAX_INPUT_CHARS).collect();
        self.cursor = self.text.len();
    }

    /// Empties the input and returns what it held.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    /// Inserts `c` at the cursor (nothing past [`MAX_INPUT_CHARS`]).
    pub fn insert(&mut self, c: char) {
        if self.text.chars().count() < MAX_INPUT_CHARS {
            self.text.insert(self.cursor, c);
            self.cursor += c.len_utf8();
        }
    }

    /// Inserts `s` at the cursor, cut at [`MAX_INPUT_CHARS`]; `\r\n` and
    /// `\r` become `\n`.
    pub fn insert_str(&mut self, s: &str) {
        let room = MAX_INPUT_CHARS.saturating_sub(self.text.chars().count());
        let clean: String = s
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .chars()
            .take(room)
            .collect();
        self.text.insert_str(self.cursor, &clean);
        self.cursor += clean.len();
    }

    fn prev_boundary(&self, i: usize) -> usize {
        self.text[..i]
            .char_indices()
            .next_back()
            .map_or(0, |(j, _)| j)
    }

    fn next_boundary(&self, i: usize) -> usize {
        self.text[i..]
            .chars()
            .next()
            .map_or(i, |c| i + c.len_utf8())
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            let start = self.prev_boundary(self.cursor);
            self.text.replace_range(start..self.cursor, "");
            self.cursor = start;
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        let end = self.next_boundary(self.cursor);
        self.text.replace_range(self.cursor..end, "");
    }

    /// Deletes the word before the cursor (and the spaces after it).
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end_matches([' ', '\t']);
        let start = trimmed
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Moves one character left.
    pub fn left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    /// Moves one character right.
    pub fn right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    /// Moves to the start of the current line.
    pub fn home(&mut self) {
        self.cursor = self.line_start(self.cursor);
    }

    /// Moves to the end of the current line.
    pub fn end(&mut self) {
        self.cursor = self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i);
    }

    fn line_start(&self, i: usize) -> usize {
        self.text[..i].rfind('\n').map_or(0, |j| j + 1)
    }

    /// Whether the cursor is on the first line.
    pub fn on_first_line(&self) -> bool {
        !self.text[..self.cursor].contains('\n')
    }

    /// Whether the cursor is on the last line.
    pub fn on_last_line(&self) -> bool {
        !self.text[self.cursor..].contains('\n')
    }

    /// Moves to the same column of the previous line; false on the first line.
    pub fn up(&mut self) -> bool {
        if self.on_first_line() {
            return false;
        }
        let start = self.line_start(self.cursor);
        let column = self.text[start..self.cursor].chars().count();
        let prev_start = self.line_start(start - 1);
        self.cursor = self.column_in_line(prev_start, column);
        true
    }

    /// Moves to the same column of the next line; false on the last line.
    pub fn down(&mut self) -> bool {
        let Some(nl) = self.text[self.cursor..].find('\n') else {
            return false;
        };
        let start = self.line_start(self.cursor);
        let column = self.text[start..self.cursor].chars().count();
        self.cursor = self.column_in_line(self.cursor + nl + 1, column);
        true
    }

    fn column_in_line(&self, start: usize, column: usize) -> usize {
        let line = &self.text[start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        line.char_indices()
            .nth(column)
            .map_or(start + line.len(), |(i, _)| start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_on_char_boundaries() {
        let mut i = Input::new();
        for c in "héllo wörld".chars() {
            i.insert(c);
        }
        i.left();
        i.backspace();
        assert_eq!(i.text(), "héllo wörd");
        i.home();
        i.delete();
        assert_eq!(i.text(), "éllo wörd");
        i.end();
        i.delete_word();
        assert_eq!(i.text(), "éllo ");
        i.insert_str("a\r\nbc");
        assert_eq!(i.text(), "éllo a\nbc");
        assert!(i.up());
        assert_eq!(&i.text()[i.cursor()..], "lo a\nbc");
        assert!(i.down());
        assert_eq!(i.cursor(), i.text().len());
        assert!(!i.down());
        assert_eq!(i.take(), "éllo a\nbc");
        assert!(i.is_empty());
    }

    #[test]
    fn caps_the_length() {
        let mut i = Input::new();
        i.insert_str(&"x".repeat(MAX_INPUT_CHARS + 10));
        i.insert('y');
        assert_eq!(i.text().chars().count(), MAX_INPUT_CHARS);
    }
}
