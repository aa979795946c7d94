//! `define_settings!`: everything about the settings, generated from one table.
//!
//! The table (in `settings.rs`) has three sections:
//!
//! - `settings`: the fields of [`Settings`](super::Settings). Each entry gives the
//!   field's doc, type and default, then `key` (its dotted key in the file; leave it
//!   out for a setting the file cannot set), `help` (its `--help` line, to which
//!   the default is added as `[default: …]`, written by [`Value::shown`] from the
//!   default itself, so each default is written once) and `arg`
//!   (the clap attributes of its flag: `long`, `env = "GOCHAT_…"`, `value_name`,
//!   a value parser when the type's `FromStr` is not the one wanted), and
//!   optionally `show` (a function giving the text `Debug` prints, to hide secrets).
//! - `derived`: fields of [`Settings`](super::Settings) made from several inputs
//!   (the TLS listener), each with the function that makes it.
//! - `inputs`: values read like settings but stored in no field of their own
//!   (`--config`, the TLS parts), for the `derived` functions; `shown` names the
//!   default a `derived` function takes for one, for `--help`.
//!
//! From it the macro writes:
//!
//! - `Settings`, with its `Default` and a `Debug` that shows each field;
//! - `Options`, one layer of optional values: clap fills it from flags and
//!   `GOCHAT_*` variables (every flag is global, so it is valid before or after a
//!   subcommand), `Options::from_file` from the file's keys;
//! - `Options::over`, which stacks a layer over a lower one, and
//!   `Options::resolve`, which fills what no layer gave with the defaults.
//!
//! A setting's type `T` is read as `<T as Value>::Input` (see [`Value`]).
//!
//! [`Value`]: super::Value
//! [`Value::shown`]: super::Value::shown

/// Generates `Settings` and `Options` from the settings table; see the module
/// documentation for its sections.
macro_rules! define_settings {
    (@show $value:expr) => {
        &$value
    };
    (@show $value:expr, $show:path) => {
        &$show(&$value)
    };
    // The `--help` line of a setting of type `$ty` whose default is `$default`
    // (none for an input without `shown`).
    (@help $help:literal, $ty:ty) => {
        $crate::config::help_with_default($help, None)
    };
    (@help $help:literal, $ty:ty, $default:expr) => {
        $crate::config::help_with_default($help, <$ty as $crate::config::Value>::shown(&($default)))
    };
    (
        settings {$(
            $(#[doc = $doc:literal])*
            $field:ident: $ty:ty = $default:expr => {
                $(key: $key:literal,)?
                help: $help:literal,
                arg: ($($arg:tt)*),
                $(show: $show:path,)?
            }
        )*}
        derived {$(
            $(#[doc = $derived_doc:literal])*
            $derived:ident: $derived_ty:ty = $derived_default:expr => {
                from: $from:path,
            }
        )*}
        inputs {$(
            $input:ident: $input_ty:ty => {
                $(key: $input_key:literal,)?
                help: $input_help:literal,
                $(shown: $input_shown:expr,)?
                arg: ($($input_arg:tt)*),
            }
        )*}
    ) => {
        /// The server's complete, resolved configuration.
        ///
        /// [`Cli::settings`](super::Cli::settings) makes it from the layers; tests
        /// and embedders build it from [`Settings::default`] with struct update
        /// syntax.
        #[derive(Clone, PartialEq, Eq)]
        pub struct Settings {
            $($(#[doc = $doc])* pub $field: $ty,)*
            $($(#[doc = $derived_doc])* pub $derived: $derived_ty,)*
        }

        impl Default for Settings {
            fn default() -> Self {
                Self {
                    $($field: $default,)*
                    $($derived: $derived_default,)*
                }
            }
        }

        impl ::std::fmt::Debug for Settings {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let mut out = f.debug_struct("Settings");
                $(out.field(
                    stringify!($field),
                    define_settings!(@show self.$field $(, $show)?),
                );)*
                $(out.field(stringify!($derived), &self.$derived);)*
                out.finish()
            }
        }

        /// One layer of settings: every setting and input, `None` where this layer
        /// says nothing.
        ///
        /// clap fills it from the command line and the `GOCHAT_*` variables (a flag
        /// beats its variable); `Options::from_file` from the configuration file.
        #[derive(Debug, Clone, Default, ::clap::Args)]
        pub struct Options {
            $(
                #[doc = $input_help]
                #[arg($($input_arg)*, global = true, help = define_settings!(@help $input_help, $input_ty $(, $input_shown)?))]
                pub $input: Option<$input_ty>,
            )*
            $(
                #[doc = $help]
                #[arg($($arg)*, global = true, help = define_settings!(@help $help, $ty, $default))]
                pub $field: Option<<$ty as $crate::config::Value>::Input>,
            )*
        }

        impl Options {
            /// The layer the configuration file gives: each table entry with a
            /// `key`, read from it.
            pub(super) fn from_file(
                file: &$crate::config::file::ConfigFile,
            ) -> Result<Self, $crate::config::ConfigError> {
                let mut layer = Self::default();
                $($(layer.$input = file.get($input_key)?;)?)*
                $($(layer.$field = file.get($key)?;)?)*
                Ok(layer)
            }

            /// This layer over `lower`: each value of this one, else `lower`'s.
            pub fn over(self, lower: Self) -> Self {
                Self {
                    $($input: self.$input.or(lower.$input),)*
                    $($field: self.$field.or(lower.$field),)*
                }
            }

            /// The settings these (merged) layers give: each value, else the
            /// default; then the derived settings.
            pub fn resolve(&self) -> Result<Settings, $crate::config::ConfigError> {
                let defaults = Settings::default();
                Ok(Settings {
                    $($field: match &self.$field {
                        Some(input) => {
                            <$ty as $crate::config::Value>::from_input(input.clone())
                        }
                        None => defaults.$field,
                    },)*
                    $($derived: $from(self)?,)*
                })
            }
        }
    };
}

pub(super) use define_settings;
