//! The gateway's [`Hooks`] for one worker, served by that worker's plugin instances: events go
//! to the plugin that registered them, middleware runs through every plugin registered for the
//! stage in configured order, and any failure is an error for the client (fail closed).

use super::bindings::{middleware as mw, types};
use super::instance::Live;
use super::registry::Registry;
use super::worker_set::{stage_index, WorkerSet};
use crate::hooks::{Actions, Hooks, Outcome, SocketInfo, Stage, UpgradeRequest, Verdict};
use crate::protocol::ErrorObject;
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

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
