//! The database URL: the original's `database.*` keys made into a `mysql://` URL
//! through sqlx's own connect options, and URLs with their password hidden.

use std::net::IpAddr;

use serde_json::Value as Json;
use sqlx::ConnectOptions as _;
use sqlx::mysql::MySqlConnectOptions;

use super::error::ConfigError;
use super::file::ConfigFile;

/// `database.port` when the file leaves it out.
const MYSQL_PORT: u16 = 3306;

/// Completes `url` (the file's `database.url`, if any) from the original's keys.
///
/// The original gave its MariaDB as `database.{address, port, user, password,
/// db_name}`; when the file has no `database.url` and names a `database.address`,
/// those keys make a `mysql://` URL. `database.enable_logs` and `database.log_file`
/// mean nothing here: they are only checked for their type.
pub(super) fn complete_url(file: &ConfigFile, url: &mut Option<String>) -> Result<(), ConfigError> {
    file.get::<bool>("database.enable_logs")?;
    file.get::<String>("database.log_file")?;
    if url.is_none() {
        *url = url_from_original_keys(file)?;
    }
    Ok(())
}

fn url_from_original_keys(file: &ConfigFile) -> Result<Option<String>, ConfigError> {
    let Some(address) = file.get::<String>("database.address")? else {
        return Ok(None);
    };
    let port = file.get::<u16>("database.port")?.unwrap_or(MYSQL_PORT);
    let user = file.get::<String>("database.user")?;
    let password = file.get::<String>("database.password")?;
    let name = file
        .get::<String>("database.db_name")?
        .ok_or_else(|| file.missing("database.db_name"))?;

    let host = url_host(&address).ok_or_else(|| {
        file.wrong(
            "database.address",
            "a host name or an IP address",
            &Json::from(address.as_str()),
        )
    })?;
    let bad_user = |user: &str| {
        file.wrong(
            "database.user",
            "a user name that fits in a mysql:// URL (no '/', '?' or '#')",
            &Json::from(user),
        )
    };
    let mut options = MySqlConnectOptions::new()
        .host(&host)
        .port(port)
        .database(&name);
    if let Some(user) = &user {
        // sqlx writes the user name into the URL as it is: one of these would end
        // the URL's authority part early.
        if user.contains(['/', '?', '#']) {
            return Err(bad_user(user));
        }
        options = options.username(user);
    }
    if let Some(password) = password.as_deref().filter(|p| !p.is_empty()) {
        options = options.password(password);
    }

    let mut url = options.to_url_lossy();
    // The query holds sqlx's defaults for every option not set here, which
    // parsing the URL gives back anyway.
    url.set_query(None);

    // "Lossy": make sure the URL means what the keys say.
    let parsed: MySqlConnectOptions = url
        .as_str()
        .parse()
        .map_err(|_| bad_user(options.get_username()))?;
    if parsed.get_username() != options.get_username() {
        return Err(bad_user(options.get_username()));
    }
    if parsed.get_database() != Some(name.as_str()) {
        return Err(file.wrong(
            "database.db_name",
            "a database name that fits in a mysql:// URL",
            &Json::from(name.as_str()),
        ));
    }
    Ok(Some(url.to_string()))
}

/// `address` as the host part of a URL (IPv6 in brackets), or `None` when it is
/// neither an IP address nor a host name.
fn url_host(address: &str) -> Option<String> {
    let bare = address.strip_prefix('[').and_then(|a| a.strip_suffix(']'));
    match bare.unwrap_or(address).parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => Some(format!("[{ip}]")),
        Ok(IpAddr::V4(ip)) => Some(ip.to_string()),
        Err(_) => {
            let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
            (!address.is_empty() && address.chars().all(name_char)).then(|| address.to_owned())
        }
    }
}

/// Returns `url` with any password replaced by `***`, for logs and messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}
