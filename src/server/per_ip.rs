//! Limits per client address, applied when a connection is accepted: how many connections one
//! address may hold open (`max_connections_per_ip`) and how fast it may open new ones
//! (`accept_rate_per_ip`). IPv6 addresses count per /64, the block one subscriber usually
//! gets, so that walking through one's own addresses does not escape the limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Rate buckets kept before idle ones are swept: enough for every address active in the last
/// second on a busy gateway, small enough that a sweep (linear in the map) stays cheap.
const SWEEP_AT: usize = 4096;

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The address already holds `max_connections_per_ip` connections.
    TooMany,
    /// The address opened connections faster than `accept_rate_per_ip`.
    TooFast,
}

/// Open connections per address: written by the acceptor (a new connection) and by whichever
/// worker drops a connection's [`IpSlot`]; a plain mutex, taken once per connection, never
/// per message.
type OpenCounts = Arc<Mutex<HashMap<IpAddr, u32>>>;

/// The per-address state of the acceptor.
pub(crate) struct PerIp {
    max_connections: u32,
    rate: f64,
    open: OpenCounts,
    /// Token buckets for the accept rate; the acceptor thread's alone.
    buckets: HashMap<IpAddr, Bucket>,
}

/// Tokens refill at `rate` per second up to one second's worth; each accept takes one.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One connection's place in its address's count; the count goes down when it is dropped
/// (with the connection, on its worker).
pub(crate) struct IpSlot {
    ip: IpAddr,
    open: OpenCounts,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl PerIp {
    /// Limits of `max_connections` (0: none) and `rate` accepts per second (0: none).
    pub(crate) fn new(max_connections: usize, rate: u32) -> PerIp {
        PerIp {
            max_connections: u32::try_from(max_connections).unwrap_or(u32::MAX),
            rate: f64::from(rate),
            open: OpenCounts::default(),
            buckets: HashMap::new(),
        }
    }

    /// Admits a connection from `ip` at `now`, or says why not. The slot, when there is one,
    /// must live as long as the connection.
    pub(crate) fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<Option<IpSlot>, Refusal> {
        let ip = key(ip);
        if self.rate > 0.0 && !self.take_token(ip, now) {
            return Err(Refusal::TooFast);
        }
        if self.max_connections == 0 {
            return Ok(None);
        }
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max_connections {
            return Err(Refusal::TooMany);
        }
        *count += 1;
        Ok(Some(IpSlot {
            ip,
            open: self.open.clone(),
        }))
    }

    fn take_token(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.buckets.len() >= SWEEP_AT {
            self.sweep(now);
        }
        let burst = self.rate.max(1.0);
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(burst);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }

    /// Forgets buckets that have refilled: their addresses start again from a full bucket,
    /// which is what they would have anyway.
    fn sweep(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.rate.max(1.0));
        self.buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
    }
}

/// The address a limit counts: IPv4 (also when mapped into IPv6) as is, IPv6 by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn connections_count_per_address_until_their_slots_drop() {
        let mut limits = PerIp::new(2, 0);
        let now = Instant::now();
        let a = limits.admit(ip("10.0.0.1"), now).unwrap();
        let b = limits.admit(ip("10.0.0.1"), now).unwrap();
        assert_eq!(
            limits.admit(ip("10.0.0.1"), now).err(),
            Some(Refusal::TooMany)
        );
        assert!(
            limits.admit(ip("10.0.0.2"), now).is_ok(),
            "other addresses are apart"
        );
        drop(a);
        assert!(limits.admit(ip("10.0.0.1"), now).is_ok());
        drop(b);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let mut limits = PerIp::new(1, 0);
        let now = Instant::now();
        let _a = limits.admit(ip("2001:db8:1:2::1"), now).unwrap();
        assert!(limits.admit(ip("2001:db8:1:2:ffff::9"), now).is_err());
        assert!(limits.admit(ip("2001:db8:1:3::1"), now).is_ok());
        let _b = limits.admit(ip("192.0.2.7"), now).unwrap();
        assert!(limits.admit(ip("::ffff:192.0.2.7"), now).is_err());
    }

    #[test]
    fn the_accept_rate_allows_a_second_of_burst_then_refills() {
        let mut limits = PerIp::new(0, 10);
        let start = Instant::now();
        for _ in 0..10 {
            assert!(limits.admit(ip("10.0.0.1"), start).is_ok());
        }
        assert_eq!(
            limits.admit(ip("10.0.0.1"), start).err(),
            Some(Refusal::TooFast)
        );
        let later = start + Duration::from_millis(250);
        let admitted = (0..10)
            .filter(|_| limits.admit(ip("10.0.0.1"), later).is_ok())
            .count();
        assert_eq!(admitted, 2, "a quarter second refills 2.5 tokens");
    }

    #[test]
    fn idle_buckets_are_swept() {
        let mut limits = PerIp::new(0, 5);
        let start = Instant::now();
        for n in 0..SWEEP_AT as u32 {
            let _ = limits.admit(IpAddr::V4(n.into()), start);
        }
        assert_eq!(limits.buckets.len(), SWEEP_AT);
        let later = start + Duration::from_secs(2);
        let _ = limits.admit(ip("10.9.9.9"), later);
        assert_eq!(limits.buckets.len(), 1);
    }
}
