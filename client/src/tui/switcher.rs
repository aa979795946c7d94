//! The quick switcher (Ctrl-G): `Go to...` with case-insensitive prefix
//! completion over the current server's buffers, hidden ones and
//! conversations with unread messages included.

use super::input::Input;
use super::model::Server;

/// The quick switcher's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Switcher {
    /// What was typed.
    pub input: Input,
}

/// The names the switcher knows on `server`, in list order: its buffers
/// (hidden ones too), then conversations with unread messages that have no
/// buffer.
pub fn candidates(server: &Server) -> Vec<String> {
    let mut names: Vec<String> = server.buffers.iter().map(|b| b.name.clone()).collect();
    for name in server.unread.keys() {
        if !names.iter().any(|n| n == name) {
            names.push(name.clone());
        }
    }
    names
}

/// The first candidate that starts with `prefix` (case-insensitive); `None`
/// for an empty prefix.
pub fn complete<'a>(prefix: &str, names: &'a [String]) -> Option<&'a str> {
    if prefix.is_empty() {
        return None;
    }
    let lower = prefix.to_lowercase();
    names
        .iter()
        .find(|n| n.to_lowercase() == lower)
        .or_else(|| names.iter().find(|n| n.to_lowercase().starts_with(&lower)))
        .map(String::as_str)
}

impl Switcher {
    /// The completion of what was typed.
    pub fn completion<'a>(&self, names: &'a [String]) -> Option<&'a str> {
        complete(self.input.text(), names)
    }

    /// Tab: replaces what was typed with its completion.
    pub fn accept(&mut self, names: &[String]) {
        if let Some(name) = self.completion(names) {
            let name = name.to_owned();
            self.input.set(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_by_prefix_case_insensitively() {
        let names: Vec<String> = ["Default", "bob", "bobby", "carol"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(complete("B", &names), Some("bob"));
        assert_eq!(complete("bobb", &names), Some("bobby"));
        assert_eq!(complete("def", &names), Some("Default"));
        assert_eq!(complete("x", &names), None);
        assert_eq!(complete("", &names), None);
        let mut s = Switcher::default();
        s.input.set("ca");
        s.accept(&names);
        assert_eq!(s.input.text(), "carol");
    }
}
