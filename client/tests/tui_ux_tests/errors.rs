//! Errors are also written to the System buffer, where they stay.

use crossterm::event::{KeyCode, KeyModifiers};

use crate::tui_support::*;

#[test]
fn errors_stay_readable_in_the_system_buffer() {
    let mut m = model_on_test();
    enter(&mut m, "/logout");
    enter(&mut m, "/nonsense");
    assert!(screen(&m).contains("Error: invalid command given!"));
    // The bar goes away ...
    m.now += std::time::Duration::from_secs(10);
    gochat_client::tui::update(&mut m, gochat_client::tui::Msg::Tick);
    assert!(m.error.is_none());
    assert!(!screen(&m).contains("Error: invalid command given!"));
    // ... the System buffer of Local keeps both, with where they happened.
    press(&mut m, KeyCode::Up, KeyModifiers::SHIFT);
    let s = screen(&m);
    assert!(
        s.contains("[System] at 12:00PM: Error in test/Default: not connected to a server"),
        "{s}"
    );
    assert!(
        s.contains("[System] at 12:00PM: Error in test/Default: invalid command given"),
        "{s}"
    );
}
