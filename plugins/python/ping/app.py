"""`ping`: the SocketCluster boilerplate handler as an scgate plugin (world `handler-plugin`).

Each `ping` bumps a counter, publishes the new count on the `pong` channel and acknowledges
with the data it received, unchanged. The counter lives in the instance, so it counts per
worker (an instance replaced after a trap starts again at 1).
"""

from typing import Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.handler import Registration
from wit_world.imports import host
from wit_world.imports.types import Error, Socket


class Handler(exports.Handler):
    """The `handler` role: componentize-py instantiates this class once per instance."""

    def __init__(self) -> None:
        self.pings = 0

    def init(self, config: str) -> Registration:
        return Registration(events=["ping"])

    def on_event(self, socket: Socket, event: str, data: Optional[str]) -> Optional[str]:
        if event != "ping":
            # The gateway only sends the events registered in `init`.
            raise Err(Error("UnknownEventError", f"ping does not handle {event}", None))
        self.pings += 1
        try:
            host.publish("pong", str(self.pings))
        except Err as e:
            # A failed publish should not fail the ping itself: log it and acknowledge anyway.
            host.log(host.Level.WARN, f"publish on pong failed: {e.value.name}: {e.value.message}")
        return data
