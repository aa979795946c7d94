//! The services the tests use (MariaDB, PostgreSQL, NATS) and whether they
//! answer. With `CI=true` one that does not answer fails the test instead of
//! skipping its variant.

/// The MariaDB server and database in which tests make their databases
/// (user root, no password).
pub const MARIADB_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// The PostgreSQL database in which tests make their schemas (trust
/// authentication, user `postgres`).
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The shared NATS server with JetStream.
pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// Whether `CI=true`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Passes `ok` through; when false, panics under CI and prints a note
/// otherwise.
fn required(ok: bool, what: &str) -> bool {
    if !ok {
        if in_ci() {
            panic!("{what} is unreachable and CI=true: its tests must run");
        }
        eprintln!("note: {what} unreachable; skipping its variant");
    }
    ok
}

/// Whether MariaDB answers at 127.0.0.1:3306.
pub async fn mariadb_available() -> bool {
    let ok = answers::<sqlx::MySqlConnection>(MARIADB_ADMIN_URL).await;
    required(ok, "MariaDB at 127.0.0.1:3306")
}

/// Whether PostgreSQL answers at 127.0.0.1:5432.
pub async fn postgres_available() -> bool {
    let ok = answers::<sqlx::PgConnection>(POSTGRES_ADMIN_URL).await;
    required(ok, "PostgreSQL at 127.0.0.1:5432")
}

/// Whether a connection of type `C` to `url` opens.
async fn answers<C: sqlx::Connection>(url: &str) -> bool {
    match C::connect(url).await {
        Ok(conn) => {
            let _ = conn.close().await;
            true
        }
        Err(_) => false,
    }
}

/// Whether the NATS server accepts connections at 127.0.0.1:4222.
pub fn nats_available() -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 4222));
    let ok = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok();
    required(ok, "NATS at 127.0.0.1:4222")
}
