"""`publish-filter`: publish-in middleware that blocks or rewrites client publishes by channel
(world `middleware-plugin`), the same rules as the Rust, JavaScript and C versions:

- `blocked/...`: block with `PublishBlockedError` "Publishing to CHANNEL is not allowed";
- `rewrite/...`: rewrite to `{"rewritten":true,"data":DATA}` (DATA as sent, `null` if none);
- anything else: allow.
"""

from typing import List, Optional

from wit_world import exports
from wit_world.exports.middleware import (
    HttpRequest,
    Stage,
    Verdict,
    Verdict_Allow,
    Verdict_Block,
    Verdict_Rewrite,
)
from wit_world.imports.types import Error, Socket

BLOCKED_PREFIX = "blocked/"  # publishes on these channels are refused
REWRITE_PREFIX = "rewrite/"  # publishes on these channels are wrapped


class Middleware(exports.Middleware):
    """The `middleware` role; registered for `publish-in` only, so the other stages never run."""

    def init(self, config: str) -> List[Stage]:
        return [Stage.PUBLISH_IN]

    def publish_in(self, socket: Socket, channel: str, data: Optional[str]) -> Verdict:
        if channel.startswith(BLOCKED_PREFIX):
            return Verdict_Block(
                Error("PublishBlockedError", f"Publishing to {channel} is not allowed", None)
            )
        if channel.startswith(REWRITE_PREFIX):
            # The data is JSON text already: wrap it without parsing it.
            return Verdict_Rewrite('{"rewritten":true,"data":%s}' % (data or "null"))
        return Verdict_Allow()

    def handshake_ws(self, request: HttpRequest) -> Verdict:
        return Verdict_Allow()

    def handshake_sc(self, socket: Socket, status_code: Optional[int]) -> Verdict:
        return Verdict_Allow()

    def emit(self, socket: Socket, event: str, data: Optional[str]) -> Verdict:
        return Verdict_Allow()

    def subscribe(self, socket: Socket, channel: str, data: Optional[str]) -> Verdict:
        return Verdict_Allow()

    def publish_out(self, socket: Socket, channel: str, data: Optional[str]) -> Verdict:
        return Verdict_Allow()

    def authenticate(self, socket: Socket, claims: str) -> Verdict:
        return Verdict_Allow()
