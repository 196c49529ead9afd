//! Who the client is behind reverse proxies. `trusted_proxies` lists the addresses (or
//! CIDR ranges) of the proxies in front of Undersign. A request whose connection comes
//! from one of them is attributed to the right-most `X-Forwarded-For` hop that is not a
//! trusted proxy, read over every `X-Forwarded-For` line in order; a hop that does not
//! parse as an IP address ends the walk (nothing to its left can be trusted) and the
//! last trusted hop is used. A connection from anywhere else is that address, whatever
//! headers it sends. Throttles count an IPv6 client by its /64, the block one home or
//! device is usually given.

use std::net::IpAddr;

/// An address or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    base: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (addr, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw, None),
        };
        let base: IpAddr = addr.parse().map_err(|_| {
            format!("{raw:?} is not an IP address or a CIDR range such as 10.0.0.0/8")
        })?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{raw:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { base, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.base, ip) {
            (IpAddr::V4(b), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(b) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(b), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(b) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        entries
            .into_iter()
            .map(IpRange::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }

    /// The client of a request that came over a connection from `peer`, with these
    /// `X-Forwarded-For` header values in the order they appear.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded
            .into_iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let mut last_trusted = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
                return last_trusted;
            };
            if !self.trusts(ip) {
                return ip;
            }
            last_trusted = ip;
        }
        last_trusted
    }
}

/// What throttles count a client as: an IPv4 address itself, an IPv6 address by its /64.
pub fn throttle_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let r = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(r.contains(ip("10.200.1.1")));
        assert!(r.contains(ip("::ffff:10.0.0.1")));
        assert!(!r.contains(ip("11.0.0.1")));
        assert!(IpRange::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(
            IpRange::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("192.0.2.1"))
        );
        assert!(IpRange::parse("10.0.0.0/33").is_err());
        assert!(IpRange::parse("proxy.school").is_err());
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop_over_every_line() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8", "::1"]).unwrap();
        // Not from a proxy: the header is ignored, whatever it says.
        assert_eq!(
            proxies.client(ip("192.0.2.9"), ["1.2.3.4"]),
            ip("192.0.2.9")
        );
        // From the proxy: the right-most hop not a proxy, across two header lines.
        assert_eq!(
            proxies.client(ip("10.0.0.2"), ["6.6.6.6, 192.0.2.7", "10.0.0.3"]),
            ip("192.0.2.7")
        );
        // A spoofed left part is never reached; garbage stops the walk.
        assert_eq!(
            proxies.client(ip("::1"), ["1.1.1.1, not-an-ip, 10.0.0.5"]),
            ip("10.0.0.5")
        );
        assert_eq!(proxies.client(ip("10.0.0.2"), []), ip("10.0.0.2"));
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), ["1.2.3.4"]), ip("127.0.0.1"));
    }

    #[test]
    fn ipv6_clients_are_throttled_by_their_64() {
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:aaaa::1")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:bbbb::9")),
            throttle_key(ip("2001:db8:1:2:aaaa::1"))
        );
        assert_eq!(throttle_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(throttle_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
