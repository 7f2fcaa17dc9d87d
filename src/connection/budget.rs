//! The process-wide budget of bytes that sockets buffer (`max_buffered_bytes`): messages still
//! being read (fragments being assembled, a large frame still arriving) and output waiting for
//! a peer that does not read (the write buffer and the outbound queue). When the sockets'
//! holdings together pass it, the largest holders are closed — 1009 when most of what a socket
//! holds is a message being read, 1013 when it is output — and counted in `buffer_evictions`.
//!
//! A socket reports its holding in steps of [`GRANULE`] bytes, so one that holds less (every
//! socket in ordinary traffic) never touches the shared state: no lock or atomic per message.

use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::protocol::close;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Reporting step: holdings are counted in whole granules, rounded down. Above the largest
/// ordinary holding (a 16 KiB write buffer, a 512-byte read), so ordinary traffic reports
/// nothing; the budget can be overshot by at most this much per socket.
pub(crate) const GRANULE: usize = 32 * 1024;

/// The shared budget, one per gateway.
pub(crate) struct BufferBudget {
    limit: u64,
    /// Holders of at least one granule. Locked by a socket's task when its holding crosses a
    /// granule, never while it awaits.
    holders: Mutex<Holders>,
    /// Closes the chosen sockets through their workers.
    gateway: Gateway,
}

#[derive(Default)]
struct Holders {
    /// Bytes held by sockets not yet told to close.
    live: u64,
    by_socket: HashMap<(usize, u64), Held>,
}

#[derive(Clone, Copy)]
struct Held {
    bytes: u64,
    /// Whether most of it is a message being read (else output).
    reading: bool,
    /// Told to close: no longer counted in `live`, never chosen twice.
    evicted: bool,
}

impl BufferBudget {
    pub(crate) fn new(limit: usize, gateway: Gateway) -> BufferBudget {
        BufferBudget {
            limit: limit as u64,
            holders: Mutex::default(),
            gateway,
        }
    }

    /// Sets what socket `id` (worker, key) holds; closes the largest holders if the total is
    /// now over the budget.
    fn report(&self, id: (usize, u64), bytes: u64, reading: bool) {
        let victims = {
            let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
            let before = holders.by_socket.get(&id).copied();
            if let Some(held) = before.filter(|h| !h.evicted) {
                holders.live -= held.bytes;
            }
            let evicted = before.is_some_and(|h| h.evicted);
            if bytes == 0 {
                holders.by_socket.remove(&id);
            } else {
                let held = Held {
                    bytes,
                    reading,
                    evicted,
                };
                holders.by_socket.insert(id, held);
                if !evicted {
                    holders.live += bytes;
                }
            }
            if holders.live <= self.limit {
                return;
            }
            choose_victims(&mut holders, self.limit)
        };
        for ((worker, key), reading) in victims {
            Metrics::inc(&self.gateway.metrics().buffer_evictions);
            let code = if reading {
                close::MESSAGE_TOO_BIG
            } else {
                close::TRY_AGAIN_LATER
            };
            // A worker whose command queue is full misses this one; the socket is chosen again
            // at the next report over the budget.
            if !self
                .gateway
                .try_disconnect(worker, key, code, close::reason(code))
            {
                let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(held) = holders.by_socket.get_mut(&(worker, key)) {
                    held.evicted = false;
                    let bytes = held.bytes;
                    holders.live += bytes;
                }
            }
        }
    }
}

/// Marks the largest holders evicted until the rest fit in `limit`; returns them.
fn choose_victims(holders: &mut Holders, limit: u64) -> Vec<((usize, u64), bool)> {
    let mut candidates: Vec<((usize, u64), Held)> = holders
        .by_socket
        .iter()
        .filter(|(_, h)| !h.evicted)
        .map(|(id, h)| (*id, *h))
        .collect();
    candidates.sort_unstable_by_key(|(_, held)| std::cmp::Reverse(held.bytes));
    let mut victims = Vec::new();
    for (id, held) in candidates {
        if holders.live <= limit {
            break;
        }
        holders.live -= held.bytes;
        if let Some(h) = holders.by_socket.get_mut(&id) {
            h.evicted = true;
        }
        victims.push((id, held.reading));
    }
    victims
}

/// One socket's account with the budget: reports its holding when it crosses a granule, and
/// clears it when dropped with the socket.
pub(crate) struct Holding {
    budget: std::sync::Arc<BufferBudget>,
    id: (usize, u64),
    /// Granules last reported.
    reported: usize,
}

impl Holding {
    pub(crate) fn new(budget: std::sync::Arc<BufferBudget>, worker: usize, key: u64) -> Holding {
        Holding {
            budget,
            id: (worker, key),
            reported: 0,
        }
    }

    /// The socket now holds `reading` bytes of messages being read and `output` bytes of output.
    pub(crate) fn update(&mut self, reading: usize, output: usize) {
        let granules = (reading + output) / GRANULE;
        if granules != self.reported {
            self.reported = granules;
            let bytes = (granules * GRANULE) as u64;
            self.budget.report(self.id, bytes, reading >= output);
        }
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        if self.reported != 0 {
            self.budget.report(self.id, 0, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holders(sizes: &[u64]) -> Holders {
        let mut holders = Holders::default();
        for (key, bytes) in sizes.iter().enumerate() {
            let held = Held {
                bytes: *bytes,
                reading: key % 2 == 0,
                evicted: false,
            };
            holders.by_socket.insert((0, key as u64), held);
            holders.live += bytes;
        }
        holders
    }

    #[test]
    fn the_largest_holders_go_first_until_the_rest_fit() {
        let mut h = holders(&[100, 500, 300, 200]);
        let victims = choose_victims(&mut h, 700);
        assert_eq!(victims, vec![((0, 1), false)], "500 out: 600 left");
        assert_eq!(h.live, 600);
        let victims = choose_victims(&mut h, 250);
        assert_eq!(victims, vec![((0, 2), true), ((0, 3), false)]);
        assert_eq!(h.live, 100);
        assert!(
            choose_victims(&mut h, 250).is_empty(),
            "evicted sockets are not chosen again"
        );
    }
}
