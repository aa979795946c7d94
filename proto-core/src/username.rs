//! Usernames: 1 to 32 lowercase ASCII letters and digits.

use core::fmt;

/// Longest username in bytes.
pub const MAX_USERNAME_LEN: usize = 32;

/// Why a string is not a username.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Empty.
    #[error("username is empty")]
    Empty,
    /// Over 32 bytes.
    #[error("username of {0} bytes, at most 32 allowed")]
    TooLong(usize),
    /// A byte other than a lowercase letter or digit.
    #[error("username may only hold lowercase letters and digits")]
    BadCharacter,
}

/// A valid username.
///
/// Held inline (at most 32 bytes), so reading one from a packet or copying
/// it allocates nothing. Compares, orders and hashes as its `str`.
#[derive(Clone)]
pub struct Username {
    len: u8,
    bytes: [u8; MAX_USERNAME_LEN],
}

impl Username {
    /// Accepts exactly the valid form (no case folding).
    pub fn new(name: &str) -> Result<Self, UsernameError> {
        Self::check(name.as_bytes())?;
        let mut bytes = [0u8; MAX_USERNAME_LEN];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Username {
            len: name.len() as u8,
            bytes,
        })
    }

    /// Lowercases ASCII letters, then validates: how every incoming name is read.
    pub fn parse(bytes: &[u8]) -> Result<Self, UsernameError> {
        if bytes.is_empty() {
            return Err(UsernameError::Empty);
        }
        if bytes.len() > MAX_USERNAME_LEN {
            return Err(UsernameError::TooLong(bytes.len()));
        }
        let mut name = [0u8; MAX_USERNAME_LEN];
        for (slot, &b) in name.iter_mut().zip(bytes) {
            let lower = b.to_ascii_lowercase();
            if !(lower.is_ascii_lowercase() || lower.is_ascii_digit()) {
                return Err(UsernameError::BadCharacter);
            }
            *slot = lower;
        }
        Ok(Username {
            len: bytes.len() as u8,
            bytes: name,
        })
    }

    fn check(bytes: &[u8]) -> Result<(), UsernameError> {
        if bytes.is_empty() {
            return Err(UsernameError::Empty);
        }
        if bytes.len() > MAX_USERNAME_LEN {
            return Err(UsernameError::TooLong(bytes.len()));
        }
        if !bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(UsernameError::BadCharacter);
        }
        Ok(())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only lowercase ASCII letters and digits are ever stored.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl PartialEq for Username {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Username {}

impl PartialOrd for Username {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Username {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl core::hash::Hash for Username {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<[u8]> for Username {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl core::str::FromStr for Username {
    type Err = UsernameError;
    fn from_str(s: &str) -> Result<Self, UsernameError> {
        Self::parse(s.as_bytes())
    }
}

impl TryFrom<&str> for Username {
    type Error = UsernameError;
    fn try_from(s: &str) -> Result<Self, UsernameError> {
        Self::parse(s.as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn compares_orders_and_hashes_as_its_str() {
        use std::hash::{BuildHasher, RandomState};
        let names = ["b", "a", "ab", "a1", "zz", "0", "a"];
        let mut users: Vec<Username> = names.iter().map(|n| Username::new(n).unwrap()).collect();
        users.sort();
        let mut sorted = names.to_vec();
        sorted.sort();
        assert_eq!(
            users.iter().map(Username::as_str).collect::<Vec<_>>(),
            sorted
        );
        assert_eq!(users[1], users[2]);
        assert_ne!(users[2], users[3]);
        let state = RandomState::new();
        assert_eq!(
            state.hash_one(Username::parse(b"Alice").unwrap()),
            state.hash_one("alice")
        );
        let longest = "a".repeat(MAX_USERNAME_LEN);
        assert_eq!(Username::new(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn validation() {
        assert!(Username::new("alice42").is_ok());
        assert_eq!(Username::new(""), Err(UsernameError::Empty));
        assert_eq!(Username::new("Alice"), Err(UsernameError::BadCharacter));
        assert_eq!(
            Username::parse(b"Alice").map(|u| u.to_string()),
            Ok("alice".to_owned())
        );
        assert_eq!(
            Username::new(&"a".repeat(33)),
            Err(UsernameError::TooLong(33))
        );
        assert!(Username::new(&"a".repeat(32)).is_ok());
        assert_eq!(Username::parse(b"al ice"), Err(UsernameError::BadCharacter));
    }
}
