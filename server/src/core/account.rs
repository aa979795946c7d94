//! An account as the store keeps it: plain data that the rules read and the
//! store fills in (the store depends on this, not the other way round).

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The account id (referenced by messages).
    pub id: i64,
    /// The (lowercase) username.
    pub username: String,
    /// The public key PEM as the client sent it; `None` once deregistered.
    pub pubkey: Option<String>,
    /// The permission level: 0 user, 1 admin, 2 owner.
    pub permission: i64,
}
