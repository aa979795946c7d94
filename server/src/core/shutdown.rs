//! The server-wide stop signal.

/// Signals a server-wide stop to whoever waits for it.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: async_channel::Sender<()>,
    rx: async_channel::Receiver<()>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (tx, rx) = async_channel::bounded(1);
        Shutdown { tx, rx }
    }
}

impl Shutdown {
    /// Starts the stop; idempotent.
    pub fn trigger(&self) {
        self.tx.close();
    }

    /// Whether the stop started.
    pub fn is_triggered(&self) -> bool {
        self.tx.is_closed()
    }

    /// Completes once the stop starts.
    pub async fn wait(&self) {
        let _ = self.rx.recv().await;
    }
}
