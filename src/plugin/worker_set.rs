//! One worker's set of plugin instances for one generation of the registry, indexed by event,
//! middleware stage and lifecycle role; instances of unchanged plugins move from set to set.

use super::bindings::middleware as mw;
use super::component::LoadedPlugin;
use super::instance::PluginInstance;
use crate::hooks::Stage;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Every stage, in the order of [`stage_index`].
pub(super) const STAGES: usize = 7;

pub(super) fn stage_index(stage: Stage) -> usize {
    match stage {
        Stage::HandshakeWs => 0,
        Stage::HandshakeSc => 1,
        Stage::Emit => 2,
        Stage::Subscribe => 3,
        Stage::PublishIn => 4,
        Stage::PublishOut => 5,
        Stage::Authenticate => 6,
    }
}

/// The gateway's stage for the WIT one.
pub(super) fn from_wit(stage: mw::Stage) -> Stage {
    match stage {
        mw::Stage::HandshakeWs => Stage::HandshakeWs,
        mw::Stage::HandshakeSc => Stage::HandshakeSc,
        mw::Stage::Emit => Stage::Emit,
        mw::Stage::Subscribe => Stage::Subscribe,
        mw::Stage::PublishIn => Stage::PublishIn,
        mw::Stage::PublishOut => Stage::PublishOut,
        mw::Stage::Authenticate => Stage::Authenticate,
    }
}

/// One worker's plugins: the instances of one generation of the registry's set.
pub(super) struct WorkerSet {
    // Rc: an instance of a plugin that did not change moves to the next set as it is (its
    // state with it). RefCell: hooks run synchronously on the worker's one thread and never
    // re-enter each other, so a borrow never overlaps another.
    pub instances: Vec<Rc<RefCell<PluginInstance>>>,
    pub events: HashMap<String, usize>,
    pub stages: [Vec<usize>; STAGES],
    pub lifecycle: Vec<usize>,
}

impl WorkerSet {
    /// Instances for `plugins` (in middleware order), reusing those of `old` whose plugin is
    /// the same version and starting the rest.
    pub fn build(plugins: &[Arc<LoadedPlugin>], old: Option<&WorkerSet>) -> Self {
        let mut set = WorkerSet {
            instances: Vec::with_capacity(plugins.len()),
            events: HashMap::new(),
            stages: Default::default(),
            lifecycle: Vec::new(),
        };
        for (index, plugin) in plugins.iter().enumerate() {
            for event in &plugin.registration.events {
                if let Some(other) = set.events.insert(event.clone(), index) {
                    let other = &plugins[other].name;
                    tracing::warn!(event, plugin = %plugin.name, "event also registered by {other}; {} wins", plugin.name);
                }
            }
            for stage in &plugin.registration.stages {
                set.stages[stage_index(from_wit(*stage))].push(index);
            }
            if plugin.lifecycle.is_some() {
                set.lifecycle.push(index);
            }
            let kept = old.and_then(|old| {
                old.instances
                    .iter()
                    .find(|i| Arc::ptr_eq(&i.borrow().plugin, plugin))
                    .cloned()
            });
            set.instances.push(
                kept.unwrap_or_else(|| Rc::new(RefCell::new(PluginInstance::new(plugin.clone())))),
            );
        }
        set
    }
}
