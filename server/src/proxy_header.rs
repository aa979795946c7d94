//! The PROXY protocol header (versions 1 and 2, as HAProxy, nginx, AWS and
//! other TCP load balancers send it): the client's own address, written by
//! the load balancer at the start of each connection it opens to a node.
//!
//! With `proxy_protocol` on, every connection must begin with one; the
//! address it names is the one the per-address limits, the logs and the
//! DUPSESS hook use. Turn it on only when every connection reaches the
//! server through such a load balancer: anyone who can connect directly
//! could otherwise claim any address.
//!
//! [`parse`] is plain code over the bytes received so far; [`read`] reads
//! exactly the header from a stream (nothing past it: the client's first
//! bytes stay for the session).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use futures_lite::AsyncReadExt;
use gochat_runtime::AsyncRead;

/// The 12 bytes a version 2 header starts with.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// What a version 1 header starts with.
const V1_PREFIX: &[u8] = b"PROXY ";

/// The longest version 1 header, `\r\n` included.
const V1_MAX: usize = 107;

/// The longest version 2 header accepted (16 bytes, then addresses and
/// TLVs); load balancers send a few dozen bytes.
const V2_MAX: usize = 16 + 1024;

/// Who the connection is for, as the header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A client at this address.
    Client(SocketAddr),
    /// The load balancer itself (a health check, `LOCAL` or `UNKNOWN`): the
    /// connection's own address stands.
    Local,
}

/// What the bytes so far make of a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// At least this many more bytes are needed.
    Need(usize),
    /// A whole header of `len` bytes.
    Done {
        /// Who the connection is for.
        origin: Origin,
        /// The header's length.
        len: usize,
    },
}

/// Why a header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The bytes are not a PROXY header.
    #[error("the connection did not start with a PROXY protocol header")]
    Missing,
    /// A PROXY header that cannot be read.
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(&'static str),
}

/// Reads `buf`, the first bytes of a connection.
pub fn parse(buf: &[u8]) -> Result<Parse, HeaderError> {
    if buf.len() < V1_PREFIX.len() {
        let sure = V1_PREFIX.starts_with(buf) || V2_SIGNATURE.starts_with(buf);
        return if sure {
            Ok(Parse::Need(V1_PREFIX.len() - buf.len()))
        } else {
            Err(HeaderError::Missing)
        };
    }
    if buf.starts_with(V1_PREFIX) {
        parse_v1(buf)
    } else if V2_SIGNATURE.starts_with(&buf[..buf.len().min(12)]) {
        parse_v2(buf)
    } else {
        Err(HeaderError::Missing)
    }
}

fn parse_v1(buf: &[u8]) -> Result<Parse, HeaderError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX {
            Err(HeaderError::Malformed("version 1 line too long"))
        } else {
            Ok(Parse::Need(1))
        };
    };
    let line = std::str::from_utf8(&buf[V1_PREFIX.len()..end])
        .map_err(|_| HeaderError::Malformed("version 1 line is not text"))?;
    let len = end + 2;
    let mut fields = line.split(' ');
    let origin = match fields.next() {
        Some("UNKNOWN") => Origin::Local,
        Some(family @ ("TCP4" | "TCP6")) => {
            let (Some(src), Some(_dst), Some(sport), Some(_dport), None) = (
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
            ) else {
                return Err(HeaderError::Malformed(
                    "version 1 needs four addresses and ports",
                ));
            };
            let ip: IpAddr = src
                .parse()
                .map_err(|_| HeaderError::Malformed("bad source address"))?;
            if ip.is_ipv4() != (family == "TCP4") {
                return Err(HeaderError::Malformed("address of the wrong family"));
            }
            let port: u16 = sport
                .parse()
                .map_err(|_| HeaderError::Malformed("bad source port"))?;
            Origin::Client(SocketAddr::new(ip, port))
        }
        _ => return Err(HeaderError::Malformed("unknown version 1 protocol")),
    };
    Ok(Parse::Done { origin, len })
}

fn parse_v2(buf: &[u8]) -> Result<Parse, HeaderError> {
    if buf.len() < 16 {
        return Ok(Parse::Need(16 - buf.len()));
    }
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(HeaderError::Malformed("not version 2"));
    }
    let body = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let len = 16 + body;
    if len > V2_MAX {
        return Err(HeaderError::Malformed("version 2 header too long"));
    }
    if buf.len() < len {
        return Ok(Parse::Need(len - buf.len()));
    }
    let addresses = &buf[16..len];
    let origin = match (ver_cmd & 0x0F, buf[13]) {
        // LOCAL: the balancer's own connection (a health check).
        (0x0, _) => Origin::Local,
        // PROXY over TCP or UDP, IPv4.
        (0x1, 0x11 | 0x12) => {
            let a = addresses
                .get(..12)
                .ok_or(HeaderError::Malformed("IPv4 addresses cut short"))?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            Origin::Client(SocketAddr::new(ip.into(), u16::from_be_bytes([a[8], a[9]])))
        }
        // PROXY over TCP or UDP, IPv6.
        (0x1, 0x21 | 0x22) => {
            let a = addresses
                .get(..36)
                .ok_or(HeaderError::Malformed("IPv6 addresses cut short"))?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[..16]);
            Origin::Client(SocketAddr::new(
                Ipv6Addr::from(octets).into(),
                u16::from_be_bytes([a[32], a[33]]),
            ))
        }
        // Another family (UNSPEC, unix sockets): no client address.
        (0x1, _) => Origin::Local,
        _ => return Err(HeaderError::Malformed("unknown version 2 command")),
    };
    Ok(Parse::Done { origin, len })
}

/// Reads a header from `stream`, exactly: not a byte past it.
pub async fn read<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Origin, ReadError> {
    let mut buf = Vec::with_capacity(64);
    loop {
        match parse(&buf)? {
            Parse::Done { origin, .. } => return Ok(origin),
            Parse::Need(n) => {
                let at = buf.len();
                buf.resize(at + n, 0);
                stream.read_exact(&mut buf[at..]).await?;
            }
        }
    }
}

/// Why [`read`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The header was refused.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The connection failed or ended first.
    #[error("connection ended before its PROXY header: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn done(buf: &[u8]) -> (Origin, usize) {
        match parse(buf) {
            Ok(Parse::Done { origin, len }) => (origin, len),
            other => panic!("{other:?}"),
        }
    }

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&(body.len() as u16).to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    #[test]
    fn version_1() {
        let line = b"PROXY TCP4 192.168.0.1 10.0.0.2 56324 9037\r\nHELLO";
        let (origin, len) = done(line);
        assert_eq!(origin, Origin::Client("192.168.0.1:56324".parse().unwrap()));
        assert_eq!(&line[len..], b"HELLO");
        let (origin, _) = done(b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 9037\r\n");
        assert_eq!(
            origin,
            Origin::Client("[2001:db8::1]:4000".parse().unwrap())
        );
        assert_eq!(done(b"PROXY UNKNOWN\r\n"), (Origin::Local, 15));
        assert_eq!(
            done(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n").0,
            Origin::Local
        );
    }

    #[test]
    fn version_1_byte_by_byte() {
        let line = b"PROXY TCP4 1.2.3.4 5.6.7.8 1000 2000\r\n";
        for end in 0..line.len() {
            match parse(&line[..end]).unwrap() {
                Parse::Need(n) => assert!(n >= 1 && end + n <= line.len(), "at {end}"),
                other => panic!("done early at {end}: {other:?}"),
            }
        }
        assert_eq!(done(line).1, line.len());
    }

    #[test]
    fn version_1_refused() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1000\r\n"[..],
            b"PROXY TCP4 ::1 ::2 1000 2000\r\n",
            b"PROXY TCP6 1.2.3.4 5.6.7.8 1000 2000\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 2000\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1000 2000\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1000 2000 extra\r\n",
            b"PROXY TCP4 \xff.2.3.4 5.6.7.8 1000 2000\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(HeaderError::Malformed(_))),
                "{bad:?}"
            );
        }
        let long = [b"PROXY ".as_slice(), &[b'1'; 120]].concat();
        assert!(matches!(parse(&long), Err(HeaderError::Malformed(_))));
    }

    #[test]
    fn not_a_header() {
        assert_eq!(parse(b"\x00\x10"), Err(HeaderError::Missing));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Err(HeaderError::Missing));
        assert_eq!(
            parse(b"\r\n\r\n\0\r\nQUIZ\n1234"),
            Err(HeaderError::Missing)
        );
        assert_eq!(parse(b""), Ok(Parse::Need(6)));
        assert_eq!(parse(b"PRO"), Ok(Parse::Need(3)));
    }

    #[test]
    fn version_2() {
        let mut body = vec![203, 0, 113, 7, 10, 0, 0, 2];
        body.extend_from_slice(&40000u16.to_be_bytes());
        body.extend_from_slice(&9037u16.to_be_bytes());
        body.extend_from_slice(&[0x04, 0x00, 0x01, 0x00]); // a TLV after
        let header = v2(1, 0x11, &body);
        let (origin, len) = done(&header);
        assert_eq!(origin, Origin::Client("203.0.113.7:40000".parse().unwrap()));
        assert_eq!(len, header.len());
        // Asked for exactly what is missing, never more.
        for end in 0..header.len() {
            match parse(&header[..end]).unwrap() {
                Parse::Need(n) => assert!(end + n <= header.len(), "at {end}"),
                other => panic!("done early at {end}: {other:?}"),
            }
        }
        let mut body6 = vec![0u8; 36];
        body6[..16].copy_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        body6[32..34].copy_from_slice(&5000u16.to_be_bytes());
        assert_eq!(
            done(&v2(1, 0x21, &body6)).0,
            Origin::Client("[2001:db8::7]:5000".parse().unwrap())
        );
        assert_eq!(done(&v2(0, 0x00, &[])).0, Origin::Local);
        assert_eq!(done(&v2(1, 0x31, &[0; 216])).0, Origin::Local);
    }

    #[test]
    fn version_2_refused() {
        let short = v2(1, 0x11, &[1, 2, 3]);
        assert!(matches!(parse(&short), Err(HeaderError::Malformed(_))));
        let mut wrong_version = v2(1, 0x11, &[0; 12]);
        wrong_version[12] = 0x11;
        assert!(matches!(
            parse(&wrong_version),
            Err(HeaderError::Malformed(_))
        ));
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xFF, 0xFF]);
        assert!(matches!(parse(&huge), Err(HeaderError::Malformed(_))));
        assert!(matches!(
            parse(&v2(5, 0x11, &[0; 12])),
            Err(HeaderError::Malformed(_))
        ));
    }

    /// Mutated headers (bytes changed, cut, extended): always an answer, a
    /// header never longer than the bytes, never a need past the bound.
    #[test]
    fn any_bytes_get_an_answer() {
        let mut body = vec![203, 0, 113, 7, 10, 0, 0, 2, 0x9c, 0x40, 0x23, 0x4d];
        body.extend_from_slice(&[0x04, 0x00, 0x01, 0x00]);
        let seeds = [
            b"PROXY TCP4 192.168.0.1 10.0.0.2 56324 9037\r\n".to_vec(),
            b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 9037\r\n".to_vec(),
            b"PROXY UNKNOWN\r\n".to_vec(),
            v2(1, 0x11, &body),
            v2(1, 0x21, &[7; 36]),
            v2(0, 0x00, &[]),
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..50_000 {
            let mut buf = seeds[round % seeds.len()].clone();
            for _ in 0..(next() % 4) {
                let r = next();
                let at = (r >> 8) as usize % (buf.len() + 1);
                match r % 3 {
                    0 if at < buf.len() => buf[at] = (r >> 32) as u8,
                    1 => buf.truncate(at),
                    _ => buf.insert(at.min(buf.len()), (r >> 40) as u8),
                }
            }
            match parse(&buf) {
                Ok(Parse::Done { len, .. }) => assert!(len <= buf.len(), "{buf:?}"),
                Ok(Parse::Need(n)) => assert!(n >= 1 && buf.len() + n <= V2_MAX, "{buf:?}"),
                Err(_) => {}
            }
        }
    }

    #[test]
    fn reads_exactly_the_header() {
        let mut bytes = b"PROXY TCP4 1.2.3.4 5.6.7.8 1000 2000\r\nrest".as_slice();
        let origin = futures_lite::future::block_on(read(&mut bytes)).unwrap();
        assert_eq!(origin, Origin::Client("1.2.3.4:1000".parse().unwrap()));
        assert_eq!(bytes, b"rest");
        let mut cut = b"PROXY TCP4 1.2.3.4".as_slice();
        assert!(matches!(
            futures_lite::future::block_on(read(&mut cut)),
            Err(ReadError::Io(_))
        ));
    }
}
