//! The gateway's [`Hooks`] for one worker, served by that worker's plugin instances: events go
//! to the plugin that registered them, middleware runs through every plugin registered for the
//! stage in configured order, and any failure is an error for the client (fail closed).

use super::bindings::{middleware as mw, types};
use super::component::LoadedPlugin;
use super::instance::{Live, PluginInstance};
use super::registry::Registry;
use crate::hooks::{Actions, Hooks, Outcome, SocketInfo, Stage, UpgradeRequest, Verdict};
use crate::protocol::ErrorObject;
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Every stage, in the order of [`stage_index`].
const STAGES: usize = 7;

fn stage_index(stage: Stage) -> usize {
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
struct WorkerSet {
    // Rc: an instance of a plugin that did not change moves to the next set as it is (its
    // state with it). RefCell: hooks run synchronously on the worker's one thread and never
    // re-enter each other, so a borrow never overlaps another.
    instances: Vec<Rc<RefCell<PluginInstance>>>,
    events: HashMap<String, usize>,
    stages: [Vec<usize>; STAGES],
    lifecycle: Vec<usize>,
}

impl WorkerSet {
    /// Instances for `plugins` (in middleware order), reusing those of `old` whose plugin is
    /// the same version and starting the rest.
    fn build(plugins: &[Arc<LoadedPlugin>], old: Option<&WorkerSet>) -> Self {
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

/// A worker's [`Hooks`]: the registry's current set, taken up at the first hook call after it
/// changes (an event boundary), so a call in progress always finishes on the version it began
/// with.
pub struct PluginHooks {
    registry: Arc<Registry>,
    // RefCell: read at every hook call and replaced between calls, on the worker's one thread.
    current: RefCell<(u64, Rc<WorkerSet>)>,
    max_reply_bytes: usize,
}

impl PluginHooks {
    /// Starts one instance of each plugin in the registry's current set.
    pub fn new(registry: Arc<Registry>, max_reply_bytes: usize) -> Self {
        let (generation, plugins) = registry.snapshot();
        let set = WorkerSet::build(&plugins, None);
        PluginHooks {
            registry,
            current: RefCell::new((generation, Rc::new(set))),
            max_reply_bytes,
        }
    }

    /// The set to run this hook call on: the current one, rebuilt first if the registry moved.
    fn set(&self) -> Rc<WorkerSet> {
        let generation = self.registry.generation();
        {
            let current = self.current.borrow();
            if current.0 == generation {
                return current.1.clone();
            }
        }
        let (generation, plugins) = self.registry.snapshot();
        let old = self.current.borrow().1.clone();
        let set = Rc::new(WorkerSet::build(&plugins, Some(&old)));
        tracing::debug!(
            generation,
            plugins = plugins.len(),
            "worker took up a new plugin set"
        );
        *self.current.borrow_mut() = (generation, set.clone());
        set
    }

    /// Runs `stage` through every plugin registered for it; a rewrite feeds the next plugin.
    fn middleware(
        &self,
        set: &WorkerSet,
        stage: Stage,
        caller: Option<&SocketInfo>,
        data: Option<&RawValue>,
        actions: &mut Actions,
        call: impl AsyncFn(&mut Live, Option<&str>) -> wasmtime::Result<mw::Verdict>,
    ) -> Verdict {
        let mut rewritten: Option<Box<RawValue>> = None;
        for &index in &set.stages[stage_index(stage)] {
            let mut instance = set.instances[index].borrow_mut();
            let current = rewritten.as_deref().or(data).map(RawValue::get);
            let name = instance.plugin.name.clone();
            let result = instance.call(
                stage.name(),
                caller.map(|c| &c.id),
                async |live: &mut Live| call(live, current).await,
            );
            let verdict = match result {
                Ok((verdict, more)) => {
                    actions.0.extend(more.0);
                    verdict
                }
                Err(reason) => return Verdict::Block(plugin_error(&name, &reason)),
            };
            match verdict {
                mw::Verdict::Allow => {}
                mw::Verdict::Rewrite(json) => match RawValue::from_string(json) {
                    Ok(raw) => rewritten = Some(raw),
                    Err(e) => {
                        return Verdict::Block(plugin_error(
                            &name,
                            &format!("rewrite is not valid JSON: {e}"),
                        ))
                    }
                },
                mw::Verdict::Block(error) => return Verdict::Block(to_error(error)),
                mw::Verdict::BlockSilently => return Verdict::BlockSilently,
            }
        }
        rewritten.map_or(Verdict::Allow, Verdict::Rewrite)
    }
}

fn socket(info: &SocketInfo) -> types::Socket {
    types::Socket {
        id: info.id.to_string(),
        query: info.query.to_string(),
        auth_token: info.auth_token.as_deref().map(str::to_owned),
    }
}

fn to_error(error: types::Error) -> ErrorObject {
    let mut object = ErrorObject::new(error.name, error.message);
    if let Some(serde_json::Value::Object(extra)) =
        error.extra.and_then(|e| serde_json::from_str(&e).ok())
    {
        object.extra = extra;
    }
    object
}

fn plugin_error(plugin: &str, reason: &str) -> ErrorObject {
    ErrorObject::new("PluginError", format!("plugin {plugin} failed: {reason}"))
}

fn no_role() -> wasmtime::Error {
    wasmtime::Error::msg("the plugin does not export this role")
}

impl Hooks for PluginHooks {
    fn on_event(
        &self,
        info: &SocketInfo,
        event: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Outcome {
        let set = self.set();
        let Some(&index) = set.events.get(event) else {
            return Outcome::Unhandled;
        };
        let mut instance = set.instances[index].borrow_mut();
        let name = instance.plugin.name.clone();
        let sock = socket(info);
        let result = instance.call("on-event", Some(&info.id), async |live: &mut Live| {
            let handler = live.handler.as_ref().ok_or_else(no_role)?;
            handler
                .call_on_event(&mut live.store, &sock, event, data.map(RawValue::get))
                .await
        });
        match result {
            Ok((reply, more)) => {
                actions.0.extend(more.0);
                match reply {
                    Ok(None) => Outcome::Ack(None),
                    Ok(Some(json)) if json.len() > self.max_reply_bytes => {
                        Outcome::Fail(plugin_error(
                            &name,
                            &format!(
                                "reply of {} bytes is over the {}-byte limit",
                                json.len(),
                                self.max_reply_bytes
                            ),
                        ))
                    }
                    Ok(Some(json)) => match RawValue::from_string(json) {
                        Ok(raw) => Outcome::Ack(Some(raw)),
                        Err(e) => Outcome::Fail(plugin_error(
                            &name,
                            &format!("reply is not valid JSON: {e}"),
                        )),
                    },
                    Err(error) => Outcome::Fail(to_error(error)),
                }
            }
            Err(reason) => Outcome::Fail(plugin_error(&name, &reason)),
        }
    }

    fn on_connect(&self, info: &SocketInfo) {
        let sock = socket(info);
        let set = self.set();
        for &index in &set.lifecycle {
            let _ = set.instances[index].borrow_mut().call(
                "on-connect",
                Some(&info.id),
                async |live: &mut Live| {
                    let lifecycle = live.lifecycle.as_ref().ok_or_else(no_role)?;
                    lifecycle.call_on_connect(&mut live.store, &sock).await
                },
            );
        }
    }

    fn on_disconnect(&self, info: &SocketInfo, code: u16) {
        let sock = socket(info);
        let set = self.set();
        for &index in &set.lifecycle {
            let _ = set.instances[index].borrow_mut().call(
                "on-disconnect",
                Some(&info.id),
                async |live: &mut Live| {
                    let lifecycle = live.lifecycle.as_ref().ok_or_else(no_role)?;
                    lifecycle
                        .call_on_disconnect(&mut live.store, &sock, code)
                        .await
                },
            );
        }
    }

    fn handshake_ws(&self, request: &UpgradeRequest<'_>, actions: &mut Actions) -> Verdict {
        let headers = request
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let req = mw::HttpRequest {
            path: request.path.into(),
            query: request.query.into(),
            headers,
        };
        self.middleware(
            &self.set(),
            Stage::HandshakeWs,
            None,
            None,
            actions,
            async |live: &mut Live, _| {
                live.middleware
                    .as_ref()
                    .ok_or_else(no_role)?
                    .call_handshake_ws(&mut live.store, &req)
                    .await
            },
        )
    }

    fn handshake_sc(&self, info: &SocketInfo, actions: &mut Actions) -> Verdict {
        let sock = socket(info);
        self.middleware(
            &self.set(),
            Stage::HandshakeSc,
            Some(info),
            None,
            actions,
            async |live: &mut Live, _| {
                live.middleware
                    .as_ref()
                    .ok_or_else(no_role)?
                    .call_handshake_sc(&mut live.store, &sock, None)
                    .await
            },
        )
    }

    fn emit(
        &self,
        info: &SocketInfo,
        event: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Verdict {
        let sock = socket(info);
        self.middleware(
            &self.set(),
            Stage::Emit,
            Some(info),
            data,
            actions,
            async |live: &mut Live, data| {
                live.middleware
                    .as_ref()
                    .ok_or_else(no_role)?
                    .call_emit(&mut live.store, &sock, event, data)
                    .await
            },
        )
    }

    fn subscribe(
        &self,
        info: &SocketInfo,
        channel: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Verdict {
        let sock = socket(info);
        self.middleware(
            &self.set(),
            Stage::Subscribe,
            Some(info),
            data,
            actions,
            async |live: &mut Live, data| {
                live.middleware
                    .as_ref()
                    .ok_or_else(no_role)?
                    .call_subscribe(&mut live.store, &sock, channel, data)
                    .await
            },
        )
    }

    fn publish_in(
        &self,
        info: &SocketInfo,
        channel: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Verdict {
        let sock = socket(info);
        self.middleware(
            &self.set(),
            Stage::PublishIn,
            Some(info),
            data,
            actions,
            async |live: &mut Live, data| {
                live.middleware
                    .as_ref()
                    .ok_or_else(no_role)?
                    .call_publish_in(&mut live.store, &sock, channel, data)
                    .await
            },
        )
    }

    fn wants_publish_out(&self) -> bool {
        !self.set().stages[stage_index(Stage::PublishOut)].is_empty()
    }

    fn publish_out(
        &self,
        info: &SocketInfo,
        channel: &str,
        data: Option<&RawValue>,
        actions: &mut Actions,
    ) -> Verdict {
        let sock = socket(info);
        self.middleware(
            &self.set(),
            Stage::PublishOut,
            Some(info),
            data,
            actions,
            async |live: &mut Live, data| {
                let middleware = live.middleware.as_ref().ok_or_else(no_role)?;
                middleware
                    .call_publish_out(&mut live.store, &sock, channel, data)
                    .await
            },
        )
    }

    fn authenticate(&self, info: &SocketInfo, claims: &str, actions: &mut Actions) -> Verdict {
        let sock = socket(info);
        self.middleware(
            &self.set(),
            Stage::Authenticate,
            Some(info),
            None,
            actions,
            async |live: &mut Live, _| {
                live.middleware
                    .as_ref()
                    .ok_or_else(no_role)?
                    .call_authenticate(&mut live.store, &sock, claims)
                    .await
            },
        )
    }

    fn plugins_status(&self) -> Option<serde_json::Value> {
        Some(self.registry.status())
    }
}
