//! Client addresses and the CIDR blocks that define device networks (school devices, staff
//! personal devices, guest Wi-Fi).

use std::fmt;
use std::net::IpAddr;

use crate::error::CidrError;

/// An address block such as `10.20.0.0/16`, `2001:db8::/32`, or one address (`/32` or
/// `/128` implied). IPv4-mapped IPv6 clients (`::ffff:10.20.1.5`) match IPv4 blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr` or `addr/prefix`. Host bits below the prefix must be zero, so that a
    /// typo such as `10.20.1.0/16` is caught rather than silently widened.
    pub fn parse(s: &str) -> Result<Self, CidrError> {
        let err = |why| CidrError {
            input: s.to_owned(),
            why,
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| err("not an IP address"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .map_err(|_| err("the prefix length is not a number"))?,
        };
        if prefix > max {
            return Err(err("the prefix length is too long for the address"));
        }
        let cidr = Self { addr, prefix };
        if cidr.network_bits(addr) != bits(addr) {
            return Err(err("address bits are set below the prefix length"));
        }
        Ok(cidr)
    }

    fn network_bits(&self, ip: IpAddr) -> u128 {
        let (width, value) = match ip {
            IpAddr::V4(v4) => (32, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => (128, u128::from(v6)),
        };
        let host_bits = width - u32::from(self.prefix);
        if host_bits >= 128 {
            0
        } else {
            (value >> host_bits) << host_bits
        }
    }

    /// Whether `ip` lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        self.network_bits(ip) == bits(self.addr)
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        let c = Cidr::parse("10.20.0.0/16").unwrap();
        assert!(c.contains(ip("10.20.255.1")));
        assert!(!c.contains(ip("10.21.0.1")));
        assert!(c.contains(ip("::ffff:10.20.1.5")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("127.0.0.2").unwrap().contains(ip("127.0.0.2")));
        assert!(!Cidr::parse("127.0.0.2").unwrap().contains(ip("127.0.0.3")));
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains(ip("2001:db8:1::9"))
        );
    }

    #[test]
    fn typos_are_refused_with_a_reason() {
        assert!(
            Cidr::parse("10.20.1.0/16")
                .unwrap_err()
                .why
                .contains("below the prefix")
        );
        assert!(Cidr::parse("10.20.0.0/33").is_err());
        assert!(Cidr::parse("10.20.0/16").is_err());
        assert!(Cidr::parse("10.20.0.0/x").is_err());
    }
}
