//! One runtime of each kind, shared by every test of a test binary.

use std::sync::OnceLock;

use gochat_runtime_smol::SmolRuntime;
use gochat_runtime_tokio::TokioRuntime;

/// The test binary's tokio runtime.
pub fn tokio_rt() -> TokioRuntime {
    static RT: OnceLock<TokioRuntime> = OnceLock::new();
    RT.get_or_init(|| TokioRuntime::new().expect("tokio runtime"))
        .clone()
}

/// The test binary's smol runtime (two executor threads).
pub fn smol_rt() -> SmolRuntime {
    static RT: OnceLock<SmolRuntime> = OnceLock::new();
    RT.get_or_init(|| SmolRuntime::with_threads(2).expect("smol runtime"))
        .clone()
}

/// Sends tracing output to the test's captured output when
/// `GOCHAT_TEST_LOG` holds a filter (`GOCHAT_TEST_LOG=debug cargo test ...`).
pub fn init_test_log() {
    if let Ok(filter) = std::env::var("GOCHAT_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
}
