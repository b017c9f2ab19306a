"""contacts/inbound.yaml: which channels take replies, in which gateway's format, with
which secret.

    rate: 6/min            # replies per address (and channel) before 429; optional
    channels:
      sms:                 # the outbound channel of channels.yaml this answers
        format: smseagle   # generic | smseagle | kannel | mattermost | matrix
        secret: ${SMS_INBOUND_KEY}
      matrix:
        format: matrix
        homeserver: https://matrix.estate.lan
        secret: ${MATRIX_BOT_TOKEN}     # the bot's access token

A reply is only ever taken on the channel a page or question went out on, from the
address it went to. A page sent on a channel listed here tells the person how to
acknowledge by reply ("回复 1 确认收到"); one on any other channel does not.
Secrets are ${NAME}: from the environment or the private secrets file (settings
``secrets_file``), never the file itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from incident.errors import Issue, Msg, ValidationFailed

FILE_NAME = "inbound.yaml"
FORMATS = ("generic", "smseagle", "kannel", "mattermost", "matrix")
_SECRET = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|min|minute|h|hour)\s*$")
_PER = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InboundSpec(_Strict):
    format: Literal["generic", "smseagle", "kannel", "mattermost", "matrix"]
    secret: Annotated[str, Field(pattern=r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$",
                                 description="${NAME} of the shared secret or token")]
    homeserver: Annotated[str, Field(pattern=r"^https?://")] | None = None
    trigger: str | None = Field(default=None, description="Mattermost trigger word to strip")


class InboundFile(_Strict):
    rate: str = "6/min"
    channels: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], InboundSpec] = {}


@dataclass(frozen=True, slots=True)
class InboundChannel:
    name: str
    format: str
    secret_name: str
    secret: str = field(default="", repr=False)  # "" when unset: every request is refused
    homeserver: str | None = None
    trigger: str | None = None


@dataclass(slots=True)
class InboundConfig:
    channels: dict[str, InboundChannel]
    rate: int = 6            # replies per `per` seconds per (channel, address)
    per: float = 60.0
    source: str = "(none)"
    warnings: list[Issue] = field(default_factory=list)

    @property
    def secrets(self) -> list[str]:
        return [c.secret for c in self.channels.values() if c.secret]


def inbound_path(contacts_dir: str | Path) -> Path:
    return Path(contacts_dir) / FILE_NAME


def reply_channels(contacts_dir: str | Path) -> set[str]:
    """Names of the channels that take replies (for the page text); never raises."""
    try:
        return set(load_inbound(contacts_dir, env={}).channels)
    except (ValidationFailed, OSError):
        return set()


def parse_rate(text: str) -> tuple[int, float]:
    m = _RATE.match(str(text))
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"'{text}' is not a rate — write it like 6/min or 1/s")
    return int(m.group(1)), float(_PER[m.group(2)])


def load_inbound(contacts_dir: str | Path, *, secrets_file: str | Path | None = None,
                 env: Mapping[str, str] | None = None,
                 warn_unset: bool = True) -> InboundConfig:
    """Validate inbound.yaml (file, line and hint per problem). No file: no channel takes
    replies. `warn_unset=False` (`incident validate`): secrets matter only to the process
    running `service --inbound`, which may run elsewhere with its own environment; that
    process warns at start."""
    from incident.validation import validated_file

    p = inbound_path(contacts_dir)
    if not p.exists():
        return InboundConfig({})
    doc, issues, model = validated_file(p, InboundFile, "channels")
    try:
        rate, per = parse_rate(model.rate)
    except ValueError:
        doc.add(issues, ("rate",), "val.inbound.bad_rate", rate=model.rate)
        issues.raise_if_errors()
        raise  # pragma: no cover
    secrets: dict[str, str] = {}
    if secrets_file:
        from incident.notify.channels import read_secrets_file

        secrets.update(read_secrets_file(secrets_file))
    secrets.update({k: v for k, v in (os.environ if env is None else env).items() if v})
    chans: dict[str, InboundChannel] = {}
    try:
        from incident.notify.channels import channel_names

        outbound = channel_names(contacts_dir)
    except ImportError:  # pragma: no cover - notifications not installed
        outbound = set(model.channels)
    for name, spec in model.channels.items():
        where = ("channels", name)
        if name not in outbound:
            from incident.errors import known, suggest

            doc.add(issues, where, "val.inbound.unknown_channel",
                    suggest(name, outbound) or known(outbound), name=name)
            continue
        if spec.format == "matrix" and not spec.homeserver:
            doc.add(issues, where, "val.inbound.needs_homeserver",
                    Msg("val.inbound.hint_homeserver", {"example": "https://matrix.estate.lan"}),
                    name=name)
            continue
        if spec.format != "matrix" and spec.homeserver:
            doc.add(issues, (*where, "homeserver"), "val.inbound.homeserver_not_matrix",
                    format=spec.format)
            continue
        var = _SECRET.match(spec.secret).group(1)  # type: ignore[union-attr]
        value = secrets.get(var, "")
        if warn_unset and env is None and not value:
            doc.add(issues, (*where, "secret"), "val.inbound.secret_unset",
                    "val.notify.hint_secret_unset", severity="warning", var=f"${{{var}}}",
                    name=name)
        chans[name] = InboundChannel(name, spec.format, var, value, spec.homeserver,
                                     spec.trigger)
    issues.raise_if_errors()
    return InboundConfig(chans, rate, per, doc.file,
                         [i for i in issues.items if i.severity == "warning"])
