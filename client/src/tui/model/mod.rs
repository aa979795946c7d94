//! The TUI's state, and what is derived from it: the model layer. It knows
//! nothing of keys or drawing; the update function changes it and the
//! renderer reads it.
//!
//! - [`state`]: the [`Model`] itself, its constants and accessors.
//! - [`server_state`], [`buffer`], [`entry`]: servers, their buffers and the
//!   lines in them.
//! - [`input`], [`completion`], [`popup`], [`ui_config`]: the input box and
//!   its Tab completion, the popups' state, the settings.
//! - [`layout`], [`notifications`], [`shortcuts`]: where everything goes on
//!   screen, the notifications bar's contents, the lists' shortcut keys.
//! - [`search`]: where a search's words occur in a text.
//! - [`wrap`], [`rows`]: how text falls into rows and how many rows a buffer
//!   takes, kept in step with its entries so that scrolling never lays
//!   anything out.
//!
//! Files import one way: `state` uses the parts; `layout` and
//! `notifications` read `state`; this file keeps the derived data
//! (the messages view's size, the row counts) up to date.

pub mod buffer;
pub mod completion;
pub mod entry;
pub mod input;
pub mod layout;
pub mod notifications;
pub mod popup;
pub mod rows;
pub mod search;
pub mod server_state;
pub mod shortcuts;
pub mod state;
pub mod ui_config;
pub mod wrap;

pub use self::buffer::{Buffer, BufferKind};
pub use self::entry::{Entry, Sender};
pub use self::popup::Popup;
pub use self::rows::Measure;
pub use self::server_state::{
    DEFAULT_BUFFER, LOCAL, LOGO, Link, MAX_BUFFERS, SEARCH_BUFFER, SYSTEM_BUFFER, Server,
};
pub use self::state::{ERROR_TIME, Focus, MAX_SERVERS, MSG_DELAY, Model, PAGE, ViewSize};
pub use self::ui_config::{Notify, UiConfig};

impl Model {
    /// What row counts depend on now: the messages view's width, the zone
    /// and today's date.
    pub fn measure(&self) -> Measure {
        Measure {
            width: self.view.width,
            zone: self.tz.clone(),
            today: self.tz.date_of(self.wall),
        }
    }

    /// Brings the derived data up to date with the state: the messages
    /// view's size (for the terminal size and what shows around the view)
    /// and the row count of the buffer on screen (measured again only if
    /// the width, the zone or the day changed). The update function calls
    /// it around every message.
    pub fn refresh(&mut self) {
        self.view = layout::message_view(self);
        let measure = self.measure();
        if let Some(b) = self.server_mut().buffer_mut() {
            b.remeasure(&measure);
        }
    }
}
