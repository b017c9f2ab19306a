"""Every message the console's workers post to the UI, as dataclasses (one place).

Workers run engine/store I/O in threads and post these; handlers on the UI
thread own the widgets. Refresh-type messages coalesce (`can_replace`) so a
burst of delivery updates during a 2,000-recipient send cannot flood the UI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from incident.console.bridge import Preview
    from incident.console.model import IncidentSummary, StepDelivery
    from incident.engine import IncidentState, Timer
    from incident.store import StoredEvent


@dataclass
class CoreReady(Message):
    """Playbooks, directory, store and engine are loaded."""

    playbooks: int
    staff: int
    units: int
    notify: bool
    escalation: bool  # a ladder (contacts/escalation.yaml) runs


@dataclass
class DispatcherReady(Message):
    """The background dispatcher started (or could not), after the lists were shown."""

    running: bool


@dataclass
class Logged(Message):
    """A WARNING-or-worse log record (posted from whichever thread logged it)."""

    record: logging.LogRecord


@dataclass
class CoreFailed(Message):
    """The core could not load (bad YAML, unreachable database): shown as a modal."""

    message: str


@dataclass
class ServiceStatus(Message):
    """Whether an `incident service` has been seen within the last minute."""

    seen: bool


@dataclass
class StoreChanged(Message):
    """Something in the database changed (this console, another one, the dispatcher)."""

    fingerprint: Any = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


@dataclass
class HomeData(Message):
    active: list[IncidentSummary]
    closed: list[IncidentSummary]
    now: datetime

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HomeData)


@dataclass
class IncidentData(Message):
    """A fresh snapshot of one incident, its pending timers, new events and delivery."""

    state: IncidentState
    timers: list[Timer]
    events: list[StoredEvent]
    delivery: list[StepDelivery]
    now: datetime

    def can_replace(self, message: Message) -> bool:
        # A later snapshot of the same incident read from the same point holds all the
        # earlier one's events, so the older message can be dropped.
        # (`self` is the older message, `message` the newer one.)
        return (isinstance(message, IncidentData) and message.state.id == self.state.id
                and (not self.events
                     or (bool(message.events) and message.events[0].seq <= self.events[0].seq)))


@dataclass
class ActionDone(Message):
    """An engine operation succeeded."""

    origin: str
    result: Any
    text: str = ""


@dataclass
class ActionFailed(Message):
    """An engine operation was refused or failed; what was typed stays in its field."""

    origin: str
    reason: str
    refused: bool = True


@dataclass
class PreviewReady(Message):
    preview: Preview


@dataclass
class RecipientRows(Message):
    step_id: str
    rows: list[Any]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RecipientRows) and message.step_id == self.step_id


@dataclass
class DirectoryData(Message):
    on_duty: list[tuple[str, str, list[str]]]  # role id, role title, people
    chain: str
    matches: list[tuple[str, str, str, str]] = field(default_factory=list)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DirectoryData)


@dataclass
class OpenIncident(Message):
    """Ask the app to show an incident (from home, the palette or a restart)."""

    incident_id: str
    step: str | None = None
