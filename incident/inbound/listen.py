"""Start and stop everything inbound for a service: the HTTP listener and one Matrix
reader per Matrix channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from incident.errors import Refused
from incident.inbound.config import load_inbound
from incident.inbound.matrix import MatrixReader
from incident.inbound.router import Inbox
from incident.inbound.server import InboundServer

if TYPE_CHECKING:
    from incident.runtime import Runtime


@dataclass
class Listening:
    inbox: Inbox
    server: InboundServer
    readers: list[MatrixReader] = field(default_factory=list)

    def stop(self) -> None:
        for r in self.readers:
            r.stop()
        self.server.stop()


def listen(runtime: Runtime, host: str, port: int,
           say: Callable[[str], None] = lambda _l: None, **matrix: Any) -> Listening:
    """Load contacts/inbound.yaml with its secrets, bind the listener, start it all."""
    s = runtime.settings
    config = load_inbound(s.contacts_dir, secrets_file=s.secrets_file)
    for w in config.warnings:
        say(w.format(s.lang))
    inbox = Inbox(runtime, config, say=say)
    try:
        server = InboundServer(inbox, host, port)
    except OSError as exc:
        raise Refused("refused.inbound.cannot_listen", address=f"{host}:{port}",
                      reason=exc.strerror or str(exc)) from None
    readers = [MatrixReader(ch, inbox.take, say, knows=inbox.knows, lang=s.lang, **matrix)
               for ch in config.channels.values() if ch.format == "matrix"]
    server.start()
    for r in readers:
        r.start()
    return Listening(inbox, server, readers)
