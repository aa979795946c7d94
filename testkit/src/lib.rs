//! Test support shared by the workspace's tests.
//!
//! Everything a test needs beside the code under test: the two runtimes,
//! scratch databases on SQLite, MariaDB and PostgreSQL that remove themselves
//! when dropped ([`ScratchDb`]), scratch folders ([`TempDir`]), the fixture
//! keys, a self-signed certificate, servers started in-process or as a
//! process ([`ServerProc`]), scenarios run once per runtime and database
//! ([`scenario_tests!`]), and a raw protocol client ([`RawClient`]) that shows
//! exactly what a server sends.
//!
//! A test that cannot reach MariaDB or PostgreSQL skips that variant with a
//! note, except with `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cert;
mod db;
mod keys;
mod names;
mod nats;
mod process;
mod proxy;
mod raw;
mod runtimes;
mod scenario;
mod services;
mod tagged;

pub use cert::{TestCert, test_cert};
pub use db::{Db, ScratchDb};
pub use keys::{
    FIXTURE_USERS, private_key, private_pem, public_pem, public_pem_text, random_public_pem, user,
};
pub use names::{TempDir, unique};
pub use nats::{NatsServer, with_db_and_nats};
pub use process::{NO_ADDRESS_LIMITS, ServerProc, free_port};
pub use proxy::CutProxy;
pub use raw::{RawClient, err, online_users};
pub use runtimes::{init_test_log, smol_rt, tokio_rt};
pub use scenario::{
    TIMEOUT, TestServer, run, run_scenario, scenario_dir, settings, sqlite_settings, start_server,
    unix_now, with_database,
};
pub use services::{
    MARIADB_ADMIN_URL, NATS_URL, POSTGRES_ADMIN_URL, in_ci, mariadb_available, nats_available,
    postgres_available,
};
pub use tagged::{STAMP0, Tagged, read_tagged, tagged_ciphertext, tagged_msg};
