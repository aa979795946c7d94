//! Prints the packets of a gochat byte stream as JSON lines.
//!
//! ```text
//! cargo run -p gochat-proto --example inspect -- [--hex] [--direction to-server|to-client] < stream
//! ```
//!
//! Reads stdin (raw bytes, or hex text with `--hex`, whitespace ignored) as
//! packets travelling in `--direction` (default `to-client`: what a server
//! sends) and prints one JSON object per packet on its own line:
//!
//! ```text
//! {"version":1,"action":"MSG","code":11,"info":255,"id":13,"args_hex":["626f62",...]}
//! ```
//!
//! A malformed packet prints `{"error":"ERR_..."}` (the code a peer answers
//! it with) and stops; a stream that ends inside a packet prints
//! `{"error":"truncated","buffered":N}`. Either exits with status 1.
//!
//! Output is written as packets arrive, so it works on a live capture too.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::process::ExitCode;

use gochat_proto::header::VERSION;
use gochat_proto::{Decoder, Direction, Packet};

/// The JSON line for one packet (without the newline).
pub fn packet_json(p: &Packet) -> String {
    let mut out = format!(
        "{{\"version\":{VERSION},\"action\":\"{}\",\"code\":{},\"info\":{},\"id\":{},\"args_hex\":[",
        p.action().name(),
        p.action().code(),
        p.info(),
        p.id()
    );
    for (i, arg) in p.args().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for b in arg.iter() {
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
        }
        out.push('"');
    }
    out.push_str("]}");
    out
}

/// Why the stream stopped early.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// A malformed packet; its error line was printed.
    Malformed,
    /// `--hex` input holds a character that is neither hex nor whitespace.
    BadHex(char),
}

/// Turns hex text into bytes across chunk boundaries.
#[derive(Debug, Default)]
struct HexText {
    high: Option<u8>,
}

impl HexText {
    fn push(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), Stop> {
        for &c in text {
            if c.is_ascii_whitespace() {
                continue;
            }
            let nibble = char::from(c)
                .to_digit(16)
                .ok_or(Stop::BadHex(char::from(c)))? as u8;
            match self.high.take() {
                Some(high) => out.push(high << 4 | nibble),
                None => self.high = Some(nibble),
            }
        }
        Ok(())
    }
}

/// Decodes a stream pushed in chunks and writes a JSON line per packet.
#[derive(Debug)]
pub struct Inspector {
    decoder: Decoder,
    hex: Option<HexText>,
    bytes: Vec<u8>,
}

impl Inspector {
    /// An inspector of packets travelling in `direction`; `hex`: the input
    /// is hex text.
    pub fn new(direction: Direction, hex: bool) -> Self {
        Inspector {
            decoder: Decoder::new(direction),
            hex: hex.then(HexText::default),
            bytes: Vec::new(),
        }
    }

    /// Takes the next chunk of input and writes the packets it completes.
    pub fn push(&mut self, chunk: &[u8], out: &mut impl Write) -> io::Result<Result<(), Stop>> {
        match &mut self.hex {
            Some(hex) => {
                self.bytes.clear();
                if let Err(stop) = hex.push(chunk, &mut self.bytes) {
                    return Ok(Err(stop));
                }
                self.decoder.feed(&self.bytes);
            }
            None => self.decoder.feed(chunk),
        }
        loop {
            match self.decoder.decode() {
                Ok(Some(p)) => writeln!(out, "{}", packet_json(&p))?,
                Ok(None) => return Ok(Ok(())),
                Err(e) => {
                    writeln!(out, "{{\"error\":\"{}\"}}", e.name())?;
                    return Ok(Err(Stop::Malformed));
                }
            }
        }
    }

    /// Ends the input: reports a packet cut short. `Ok(true)` when the
    /// stream ended cleanly between packets.
    pub fn finish(self, out: &mut impl Write) -> io::Result<bool> {
        let odd_nibble = self.hex.is_some_and(|h| h.high.is_some());
        let buffered = self.decoder.buffered();
        if buffered == 0 && !odd_nibble {
            return Ok(true);
        }
        writeln!(out, "{{\"error\":\"truncated\",\"buffered\":{buffered}}}")?;
        Ok(false)
    }
}

/// Inspects a whole input; `Ok(true)` when every byte made whole packets.
pub fn inspect(
    mut input: impl Read,
    out: &mut impl Write,
    direction: Direction,
    hex: bool,
) -> Result<bool, String> {
    let mut inspector = Inspector::new(direction, hex);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read the input: {e}")),
        };
        let pushed = inspector
            .push(&buf[..n], out)
            .map_err(|e| format!("cannot write: {e}"))?;
        out.flush().map_err(|e| format!("cannot write: {e}"))?;
        match pushed {
            Ok(()) => {}
            Err(Stop::Malformed) => return Ok(false),
            Err(Stop::BadHex(c)) => return Err(format!("not a hex digit: {c:?}")),
        }
    }
    inspector
        .finish(out)
        .map_err(|e| format!("cannot write: {e}"))
}

/// Command-line options.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Packets travel this way.
    pub direction: Direction,
    /// The input is hex text.
    pub hex: bool,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Inspect stdin.
    Run(Options),
    /// Print the usage.
    Help,
}

const USAGE: &str = "usage: inspect [--hex] [--direction to-server|to-client] < stream";

/// Parses the arguments after the program name.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut options = Options {
        direction: Direction::ToClient,
        hex: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--hex" if inline.is_none() => options.hex = true,
            "--direction" => {
                let value = inline
                    .or_else(|| args.next())
                    .ok_or("--direction needs a value: to-server or to-client")?;
                options.direction = match value.as_str() {
                    "to-server" => Direction::ToServer,
                    "to-client" => Direction::ToClient,
                    other => {
                        return Err(format!(
                            "unknown direction {other:?}: use to-server or to-client"
                        ));
                    }
                };
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Command::Run(options))
}

#[allow(dead_code)] // Unused where tests include this file as a module.
fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(options)) => options,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("inspect: {e}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match inspect(io::stdin().lock(), &mut out, options.direction, options.hex) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("inspect: {e}");
            ExitCode::FAILURE
        }
    }
}
