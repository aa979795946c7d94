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
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Accepts exactly the valid form (no case folding).
    pub fn new(name: &str) -> Result<Self, UsernameError> {
        Self::check(name.as_bytes())?;
        Ok(Username(name.to_owned()))
    }

    /// Lowercases ASCII letters, then validates: how every incoming name is read.
    pub fn parse(bytes: &[u8]) -> Result<Self, UsernameError> {
        if bytes.is_empty() {
            return Err(UsernameError::Empty);
        }
        if bytes.len() > MAX_USERNAME_LEN {
            return Err(UsernameError::TooLong(bytes.len()));
        }
        let mut name = String::with_capacity(bytes.len());
        for &b in bytes {
            let lower = b.to_ascii_lowercase();
            if !(lower.is_ascii_lowercase() || lower.is_ascii_digit()) {
                return Err(UsernameError::BadCharacter);
            }
            name.push(char::from(lower));
        }
        Ok(Username(name))
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
        &self.0
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<[u8]> for Username {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
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
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(Username::new("alice42").is_ok());
        assert_eq!(Username::new(""), Err(UsernameError::Empty));
        assert_eq!(Username::new("Alice"), Err(UsernameError::BadCharacter));
        assert_eq!(
            Username::parse(b"Alice").map(|u| u.0),
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
