//! Searching the history: the messages of one conversation, or of every
//! conversation of an account on a server, whose text holds a query
//! (ignoring case). Sealed history is read through the store's pages, so
//! it is searched as its account's unlocked key opens it.

use super::Service;
use crate::store::SEALED_PLACEHOLDER;
use crate::types::{ChatMessage, ClientError};

/// Messages read per page while searching.
const SEARCH_PAGE: u32 = 1000;

impl Service {
    /// The messages of `account` on server `server_id` with `peer` (with
    /// every peer when `None`) whose text holds `query`, ignoring case:
    /// newest first, at most `limit`, and how many there are in all. Texts
    /// that cannot be opened (sealed under a key not unlocked) never match.
    pub async fn search(
        &self,
        server_id: i64,
        account: &str,
        peer: Option<&str>,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<ChatMessage>, usize), ClientError> {
        let account = account.to_ascii_lowercase();
        let peers = match peer {
            Some(p) => vec![p.to_ascii_lowercase()],
            None => self.store().conversations(server_id, &account).await?,
        };
        let needle = query.to_lowercase();
        let mut found = Vec::new();
        for peer in peers {
            let mut before = None;
            loop {
                let page = self
                    .store()
                    .history(server_id, &account, &peer, before, SEARCH_PAGE)
                    .await?;
                let full = page.len() == SEARCH_PAGE as usize;
                before = page.last().map(|m| m.id);
                found.extend(
                    page.into_iter()
                        .filter(|m| m.text != SEALED_PLACEHOLDER)
                        .filter(|m| m.text.to_lowercase().contains(&needle)),
                );
                if !full {
                    break;
                }
            }
        }
        let total = found.len();
        found.sort_by(|a, b| b.stamp.cmp(&a.stamp).then(b.id.cmp(&a.id)));
        found.truncate(limit);
        Ok((found, total))
    }
}
