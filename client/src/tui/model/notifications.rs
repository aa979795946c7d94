//! The notifications bar's contents: unread counts of the conversations
//! not on screen.

use super::state::Model;

/// The unread counts to show: the current server's conversations other than
/// the one on screen, then the other servers' as `server/name`.
pub fn notifications(model: &Model) -> Vec<(String, u32)> {
    let here = model.server();
    let on_screen = here.buffer().map(|b| b.name.as_str());
    let mut out: Vec<(String, u32)> = here
        .unread
        .iter()
        .filter(|(name, n)| **n > 0 && Some(name.as_str()) != on_screen)
        .map(|(name, n)| (name.clone(), *n))
        .collect();
    for s in model.servers.iter().filter(|s| s.key != here.key) {
        out.extend(
            s.unread
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(name, n)| (format!("{}/{name}", s.name()), *n)),
        );
    }
    out
}
