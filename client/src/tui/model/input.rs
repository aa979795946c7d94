//! A small multi-line text editor: the input box and the popups' fields.
//! The cursor is a byte offset that always sits on a character boundary.
//!
//! Besides characters and the arrows it edits as readline does: words
//! ([`word_left`](Input::word_left), [`word_right`](Input::word_right)),
//! kills to the end or the start of the line and of a word, kept for
//! [`yank`](Input::yank), and [`undo`](Input::undo) of every change (the
//! characters of a word typed in a row undo together).

/// The longest text the input takes, in characters (the protocol's longest
/// argument).
pub const MAX_INPUT_CHARS: usize = 2047;

/// The most changes [`Input::undo`] can take back.
pub const UNDO_DEPTH: usize = 100;

/// Editable text with a cursor, the last text killed and the states to undo
/// back to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Input {
    text: String,
    cursor: usize,
    /// (text, cursor) before each change, the latest last.
    undo: Vec<(String, usize)>,
    /// The last change was typing a character: the next one joins it.
    typing: bool,
    /// What the last kill took (for [`yank`](Input::yank)).
    killed: String,
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

    /// Remembers the state before a change, to undo it. Characters typed
    /// in a row (`typing`) make one change, which a whitespace starts.
    fn remember(&mut self, typing: bool) {
        if !(typing && self.typing) {
            if self.undo.len() >= UNDO_DEPTH {
                self.undo.remove(0);
            }
            self.undo.push((self.text.clone(), self.cursor));
        }
        self.typing = typing;
    }

    /// Takes back the last change; false when there is none.
    pub fn undo(&mut self) -> bool {
        self.typing = false;
        match self.undo.pop() {
            Some((text, cursor)) => {
                self.text = text;
                self.cursor = cursor.min(self.text.len());
                true
            }
            None => false,
        }
    }

    /// Replaces the text (a change [`undo`](Self::undo) takes back); the
    /// cursor goes to its end.
    pub fn set(&mut self, text: &str) {
        self.remember(false);
        self.text = text.chars().take(MAX_INPUT_CHARS).collect();
        self.cursor = self.text.len();
    }

    /// Empties the input (a change [`undo`](Self::undo) takes back).
    pub fn clear(&mut self) {
        if !self.text.is_empty() {
            self.set("");
        }
    }

    /// Empties the input and returns what it held; nothing is left to undo
    /// (the text was used).
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        self.undo.clear();
        self.typing = false;
        std::mem::take(&mut self.text)
    }

    /// Inserts `c` at the cursor (nothing past [`MAX_INPUT_CHARS`]).
    pub fn insert(&mut self, c: char) {
        if self.text.chars().count() < MAX_INPUT_CHARS {
            if c.is_whitespace() {
                self.typing = false;
            }
            self.remember(true);
            self.text.insert(self.cursor, c);
            self.cursor += c.len_utf8();
        }
    }

    /// Inserts `s` at the cursor, cut at [`MAX_INPUT_CHARS`]; `\r\n` and
    /// `\r` become `\n`.
    pub fn insert_str(&mut self, s: &str) {
        self.remember(false);
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

    /// Replaces bytes `start..cursor` with `text` (a completion); the cursor
    /// goes after it. Nothing happens for a `start` that is not a character
    /// boundary before the cursor.
    pub fn replace_before_cursor(&mut self, start: usize, text: &str) {
        if start > self.cursor || !self.text.is_char_boundary(start) {
            return;
        }
        self.remember(false);
        let room = MAX_INPUT_CHARS
            .saturating_sub(self.text.chars().count())
            .saturating_add(self.text[start..self.cursor].chars().count());
        let text: String = text.chars().take(room).collect();
        self.text.replace_range(start..self.cursor, &text);
        self.cursor = start + text.len();
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.remember(false);
            let start = self.prev_boundary(self.cursor);
            self.text.replace_range(start..self.cursor, "");
            self.cursor = start;
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        let end = self.next_boundary(self.cursor);
        if end > self.cursor {
            self.remember(false);
            self.text.replace_range(self.cursor..end, "");
        }
    }

    /// Removes `start..end` (around the cursor), keeping it for
    /// [`yank`](Self::yank); the cursor goes to `start`.
    fn kill(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        self.remember(false);
        self.killed = self.text[start..end].to_owned();
        self.text.replace_range(start..end, "");
        self.cursor = start;
    }

    /// Deletes the word before the cursor (and the spaces after it): Ctrl-W.
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end_matches([' ', '\t']);
        let start = trimmed
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        self.kill(start, self.cursor);
    }

    /// Deletes from the cursor to the end of the word after it: Alt-D.
    pub fn delete_word_forward(&mut self) {
        let end = self.word_end(self.cursor);
        self.kill(self.cursor, end);
    }

    /// Deletes from the cursor to the end of the line (the line break
    /// itself when the cursor is at the end of a line): Ctrl-K.
    pub fn kill_to_end(&mut self) {
        let end = match self.text[self.cursor..].find('\n') {
            Some(0) => self.cursor + 1,
            Some(i) => self.cursor + i,
            None => self.text.len(),
        };
        self.kill(self.cursor, end);
    }

    /// Deletes from the start of the line to the cursor: Ctrl-U.
    pub fn kill_to_start(&mut self) {
        let start = self.line_start(self.cursor);
        self.kill(start, self.cursor);
    }

    /// Inserts what the last kill took: Ctrl-Y.
    pub fn yank(&mut self) {
        if !self.killed.is_empty() {
            let killed = self.killed.clone();
            self.insert_str(&killed);
        }
    }

    /// The end of the word at or after byte `i` (words are runs of letters
    /// and digits).
    fn word_end(&self, i: usize) -> usize {
        let rest = &self.text[i..];
        let start = rest
            .char_indices()
            .find(|(_, c)| c.is_alphanumeric())
            .map_or(rest.len(), |(j, _)| j);
        let len = rest[start..]
            .char_indices()
            .find(|(_, c)| !c.is_alphanumeric())
            .map_or(rest.len() - start, |(j, _)| j);
        i + start + len
    }

    /// Moves to the start of the word before the cursor: Alt-B.
    pub fn word_left(&mut self) {
        self.typing = false;
        let before = &self.text[..self.cursor];
        let end = before
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_alphanumeric())
            .map_or(0, |(j, c)| j + c.len_utf8());
        self.cursor = before[..end]
            .char_indices()
            .rev()
            .find(|(_, c)| !c.is_alphanumeric())
            .map_or(0, |(j, c)| j + c.len_utf8());
    }

    /// Moves to the end of the word after the cursor: Alt-F.
    pub fn word_right(&mut self) {
        self.typing = false;
        self.cursor = self.word_end(self.cursor);
    }

    /// Moves one character left.
    pub fn left(&mut self) {
        self.typing = false;
        self.cursor = self.prev_boundary(self.cursor);
    }

    /// Moves one character right.
    pub fn right(&mut self) {
        self.typing = false;
        self.cursor = self.next_boundary(self.cursor);
    }

    /// Moves to the start of the current line.
    pub fn home(&mut self) {
        self.typing = false;
        self.cursor = self.line_start(self.cursor);
    }

    /// Moves to the end of the current line.
    pub fn end(&mut self) {
        self.typing = false;
        self.cursor = self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i);
    }

    /// Whether there is text after the cursor.
    pub fn before_end(&self) -> bool {
        self.cursor < self.text.len()
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
        let prev_start = self.line_start(start.saturating_sub(1));
        self.typing = false;
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
        self.typing = false;
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
    fn readline_moves_and_kills() {
        let mut i = Input::new();
        i.insert_str("send it to bob, now");
        i.word_left();
        assert_eq!(&i.text()[i.cursor()..], "now");
        i.word_left();
        i.word_left();
        assert_eq!(&i.text()[i.cursor()..], "to bob, now");
        i.word_right();
        assert_eq!(&i.text()[i.cursor()..], " bob, now");
        i.kill_to_end();
        assert_eq!(i.text(), "send it to");
        i.kill_to_start();
        assert!(i.is_empty());
        i.yank();
        assert_eq!(i.text(), "send it to");
        i.home();
        i.delete_word_forward();
        assert_eq!(i.text(), " it to");
        i.end();
        i.delete_word();
        assert_eq!(i.text(), " it ");
        // Lines: Ctrl-K stops at the line break, then takes it.
        let mut m = Input::new();
        m.insert_str("ab\ncd");
        m.up();
        m.home();
        m.kill_to_end();
        assert_eq!(m.text(), "\ncd");
        m.kill_to_end();
        assert_eq!(m.text(), "cd");
    }

    #[test]
    fn undo_takes_back_words_and_kills() {
        let mut i = Input::new();
        for c in "hello big world".chars() {
            i.insert(c);
        }
        i.delete_word();
        assert_eq!(i.text(), "hello big ");
        assert!(i.undo());
        assert_eq!(i.text(), "hello big world");
        assert!(i.undo());
        assert_eq!(i.text(), "hello big");
        assert!(i.undo());
        assert_eq!(i.text(), "hello");
        assert!(i.undo());
        assert_eq!(i.text(), "");
        assert!(!i.undo());
        i.insert_str("typed");
        i.clear();
        assert!(i.undo());
        assert_eq!(i.text(), "typed");
        assert_eq!(i.take(), "typed");
        assert!(!i.undo(), "a sent text is not undone");
    }

    #[test]
    fn caps_the_length() {
        let mut i = Input::new();
        i.insert_str(&"x".repeat(MAX_INPUT_CHARS + 10));
        i.insert('y');
        assert_eq!(i.text().chars().count(), MAX_INPUT_CHARS);
    }
}
