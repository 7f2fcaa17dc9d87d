//! A worker's local channel table: which of its sockets are subscribed to each channel.
//! Only the worker's own thread touches it, so it needs no lock.

use crate::connection::outbox::Outbox;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Channel name → the worker's subscribed sockets (local key → outbox).
#[derive(Default)]
pub(crate) struct ChannelTable {
    channels: HashMap<Arc<str>, HashMap<u64, Rc<Outbox>>>,
}

impl ChannelTable {
    /// Adds a subscriber; returns true if it is the worker's first on that channel.
    pub(crate) fn add(&mut self, channel: &Arc<str>, key: u64, outbox: Rc<Outbox>) -> bool {
        let subscribers = self.channels.entry(channel.clone()).or_default();
        subscribers.insert(key, outbox);
        subscribers.len() == 1
    }

    /// Removes a subscriber; returns true if the worker has no subscriber left on that channel.
    pub(crate) fn remove(&mut self, channel: &str, key: u64) -> bool {
        let Some(subscribers) = self.channels.get_mut(channel) else {
            return false;
        };
        if subscribers.remove(&key).is_none() {
            return false;
        }
        if subscribers.is_empty() {
            self.channels.remove(channel);
            return true;
        }
        false
    }

    /// The subscribers of `channel`.
    pub(crate) fn subscribers(&self, channel: &str) -> impl Iterator<Item = &Rc<Outbox>> {
        self.channels
            .get(channel)
            .into_iter()
            .flat_map(HashMap::values)
    }
}
