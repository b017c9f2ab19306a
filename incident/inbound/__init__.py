"""Inbound replies (issue 19): `incident service --inbound HOST:PORT` takes what people
answer to pages and roll-call questions through their gateways (SMSEagle, Kannel,
Mattermost, Matrix, or a generic JSON post), checks each channel's secret, finds the
one message the reply answers and records it on that incident (Engine.record_reply).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time names load on first use
    from incident.inbound.answers import is_ack, parse_answer
    from incident.inbound.config import InboundConfig, load_inbound, reply_channels
    from incident.inbound.listen import Listening, listen
    from incident.inbound.router import Inbox
    from incident.inbound.server import InboundServer, parse_listen

_LAZY = {
    'is_ack': 'answers',
    'parse_answer': 'answers',
    'InboundConfig': 'config',
    'load_inbound': 'config',
    'reply_channels': 'config',
    'Listening': 'listen',
    'listen': 'listen',
    'Inbox': 'router',
    'InboundServer': 'server',
    'parse_listen': 'server',
}


def __getattr__(name: str) -> Any:
    from incident.lazy import load_lazy

    return load_lazy(globals(), _LAZY, name)


__all__ = [
    "InboundConfig",
    "InboundServer",
    "Inbox",
    "Listening",
    "is_ack",
    "listen",
    "load_inbound",
    "parse_answer",
    "parse_listen",
    "reply_channels",
]
