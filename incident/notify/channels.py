"""Channels: Apprise URL templates per channel kind, with limits and secrets.

``contacts/channels.yaml`` (see the shipped file for commented examples)::

    defaults:            # optional, applies to every channel
      concurrency: 16    # requests in flight at once on this channel
      rate: 50           # requests per second (0 = no limit)
      timeout: 10s       # connect and read timeout of one request
      retries: 3         # further attempts after a temporary failure
      backoff: 30s       # wait before the first retry; doubles each time
    channels:
      sms:
        url: "smseagle://${SMSEAGLE_TOKEN}@sms-gw.estate.lan/{phone}"
      email:
        url: "mailtos://${SMTP_USER}:${SMTP_PASSWORD}@smtp.estate.cn/{email}?from=noreply%40estate.cn"
      chat:
        url: "mmost://chat.estate.lan/${MM_HOOK}?channel={chat}"

A channel's ``kind`` (sms, email or chat; defaults to its name) says which of the
recipient's addresses it uses; the URL names that address as ``{phone}``,
``{email}`` or ``{chat}`` (or ``{address}``), URL-encoded on substitution.
``${NAME}`` is a secret, taken from the environment or the private secrets file
(settings ``secrets_file``: KEY=VALUE lines, readable by its owner only) and
percent-encoded for the part of the URL it lands in (so an SMTP user
``noreply@estate.cn`` or a password with ``@/#?&`` stays one value; in the path a
``/`` is kept, for tokens written as ``A/B/C``) — write secrets as they are, not
encoded. Never written to the repository, the database or a log.
An unset secret is a warning at load and an error, naming the variable and the
channel, the moment that channel is used.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from incident.errors import (
    Issue,
    IssueList,
    Msg,
    Refused,
    ValidationFailed,
    display_path,
    known,
    suggest,
)
from incident.masking import Masker, remember
from incident.playbook.model import Duration

KINDS = ("sms", "email", "chat")
PLACEHOLDER = {"sms": "phone", "email": "email", "chat": "chat"}
FILE_NAME = "channels.yaml"
_SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

DEFAULT_URLS = {"sms": "sink://sms/{phone}", "email": "sink://email/{email}",
                "chat": "sink://chat/{chat}"}


class ChannelError(Refused):
    """A channel cannot be used as configured; sending is pointless until it is fixed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    concurrency: Annotated[int, Field(ge=1, le=512)] = 16
    rate: Annotated[float, Field(ge=0)] = 50.0
    timeout: Duration = timedelta(seconds=10)
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    backoff: Duration = timedelta(seconds=30)


class ChannelSpec(_Strict):
    url: Annotated[str, Field(min_length=4)]
    kind: Literal["sms", "email", "chat"] | None = None
    concurrency: Annotated[int, Field(ge=1, le=512)] | None = None
    rate: Annotated[float, Field(ge=0)] | None = None
    timeout: Duration | None = None
    retries: Annotated[int, Field(ge=0, le=20)] | None = None
    backoff: Duration | None = None
    subject: bool | None = Field(default=None, description="send the subject too "
                                 "(default: yes, except on sms)")
    max_segments: Annotated[int, Field(ge=1, le=20)] | None = None


class ChannelsFile(_Strict):
    defaults: Limits = Limits()
    channels: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], ChannelSpec]


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    kind: str
    url: str
    concurrency: int = 16
    rate: float = 50.0
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 30.0
    subject: bool = True
    max_segments: int | None = None
    secrets: tuple[str, ...] = ()

    @property
    def address_key(self) -> str:
        """The key of Recipient.addresses this channel sends to."""
        return self.kind

    @property
    def scheme(self) -> str:
        m = _SCHEME.match(self.url)
        return m.group(1).lower() if m else ""

    def render(self, address: str, secrets: Mapping[str, str]) -> str:
        """The Apprise URL for one recipient; ChannelError when a secret is unset."""
        missing = [n for n in self.secrets if not secrets.get(n)]
        if missing:
            raise ChannelError(f"channel '{self.name}' needs ${{{missing[0]}}}, which is not "
                               "set — export it or add it to the secrets file")
        url = insert_secrets(self.url, secrets)
        value = quote(str(address), safe="")
        url = _FIELD.sub(lambda m: value if m.group(1) in ("address", PLACEHOLDER[self.kind])
                         else m.group(0), url)
        return with_timeouts(url, self.timeout)


def insert_secrets(template: str, secrets: Mapping[str, str]) -> str:
    """Put each ${NAME} into the URL, percent-encoded for the part it lands in.

    User and password (before the host's ``@``), query and fragment: every reserved
    character is encoded (``noreply@estate.cn`` → ``noreply%40estate.cn``), since
    Apprise decodes each of them. Host and path: ``/`` is kept (tokens such as
    ``T1/B2/XyZ`` are path segments by design), the rest encoded."""
    out: list[str] = []
    pos = 0
    for m in _SECRET.finditer(template):
        out.append(template[pos:m.start()])
        whole = _in_userinfo_query_or_fragment(template[:m.start()], template[m.end():])
        out.append(quote(secrets[m.group(1)], safe="" if whole else "/"))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out)


def _in_userinfo_query_or_fragment(before: str, after: str) -> bool:
    rest = _SECRET.sub("", before.split("://", 1)[-1])
    if "?" in rest or "#" in rest:
        return True  # query or fragment
    if "/" in rest:
        return False  # path
    nxt = re.search(r"[@/?#]", _SECRET.sub("", after))
    return nxt is not None and nxt.group(0) == "@"  # user or password


def url_parse_problem(template: str, secrets: Mapping[str, str]) -> Msg | None:
    """Why Apprise would read this channel URL with another host or port than written,
    or None. Checked with the real secrets where set (a stand-in otherwise)."""
    stand_in = {k: "x" for k in _SECRET.findall(template)}
    written = _FIELD.sub("x", _SECRET.sub("secret0stand0in", template))
    try:
        parts = urlsplit(written)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        return Msg("val.notify.url_unreadable", {"error": str(exc)})
    if not host:
        return Msg("val.notify.url_no_host")
    if "secret0stand0in" in host:
        return None  # the host place holds a token (dingtalk://${TOKEN}/…): nothing to compare
    url = _FIELD.sub("x", insert_secrets(template, {**stand_in, **{
        k: v for k, v in secrets.items() if v}}))
    import apprise

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        if any(not secrets.get(k) for k in stand_in):
            return None  # a stand-in for an unset secret may be what it cannot read
        return Msg("val.notify.url_unreadable_secrets")
    got_host = getattr(plugin, "host", None)
    got_port = getattr(plugin, "port", None)
    if got_host is not None and str(got_host).lower() != host.lower():
        return Msg("val.notify.url_other_host", {"got": str(got_host), "host": host})
    if port is not None and got_port is not None and int(got_port) != port:
        return Msg("val.notify.url_other_port", {"got": got_port, "port": port})
    if port is not None and got_port is None and got_host is not None:
        return Msg("val.notify.url_lost_port", {"port": port})
    return None


def with_timeouts(url: str, timeout: float) -> str:
    """Add Apprise's connect/read timeouts (cto/rto) unless the URL sets them."""
    extra = []
    for key in ("cto", "rto"):
        if not re.search(rf"[?&]{key}=", url):
            extra.append(f"{key}={timeout:g}")
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(extra)


@dataclass(slots=True)
class ChannelSet:
    """The configured channels plus the secrets they may use."""

    channels: dict[str, Channel]
    source: str = "(built-in)"
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    warnings: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        remember(self.secrets.values())  # so no log record can carry them either

    def __contains__(self, name: object) -> bool:
        return name in self.channels

    def __getitem__(self, name: str) -> Channel:
        try:
            return self.channels[name]
        except KeyError:
            raise ChannelError(f"channel '{name}' is not configured in {self.source} — "
                               f"{suggest(name, self.channels) or known(self.channels)}") \
                from None

    def __iter__(self):
        return iter(self.channels.values())

    def names(self) -> set[str]:
        return set(self.channels)

    def url_for(self, channel: str, address: str) -> str:
        return self[channel].render(address, self.secrets)

    @property
    def masker(self) -> Masker:
        return Masker(self.secrets.values())

    def masked_template(self, channel: str) -> str:
        ch = self[channel]
        return _SECRET.sub(lambda m: f"${{{m.group(1)}}}", ch.url)


def default_channels() -> ChannelSet:
    chans = {k: Channel(k, k, url, subject=k != "sms") for k, url in DEFAULT_URLS.items()}
    return ChannelSet(chans)


def channels_path(contacts_dir: str | Path) -> Path:
    return Path(contacts_dir) / FILE_NAME


def _kind(kind: str) -> dict[str, str]:
    """A channel kind as a finding names it: 'sms' in English, 短信 in Chinese."""
    from incident.i18n import channel_name

    return {"en": kind, "zh": channel_name(kind, "zh")}


def read_secrets_file(path: str | Path) -> dict[str, str]:
    """KEY=VALUE lines (# comments, optional 'export ', optional quotes).

    Refused when the file can be read by group or others: secrets belong to the
    account that runs the dispatcher.
    """
    p = Path(path).expanduser()
    name = display_path(p)
    try:
        st = p.stat()
    except OSError as exc:
        raise ValidationFailed([Issue(name, Msg("val.notify.secrets_unreadable",
                                                {"reason": exc.strerror or str(exc)}),
                                      hint="val.notify.hint_secrets_file")]) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValidationFailed([Issue(
            name, Msg("val.notify.secrets_open", {"mode": f"{stat.S_IMODE(st.st_mode):o}"}),
            hint=Msg("val.notify.hint_chmod", {"path": str(p)}))])
    out: dict[str, str] = {}
    issues = IssueList(name)
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        text = text.removeprefix("export ").strip()
        if "=" not in text:
            issues.add("val.notify.expected_kv", line=n, hint="val.notify.hint_kv")
            continue
        key, value = (s.strip() for s in text.split("=", 1))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            issues.add("val.notify.bad_var", line=n, key=key)
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    issues.raise_if_errors()
    return out


def load_channels(path: str | Path, *, secrets_file: str | Path | None = None,
                  env: Mapping[str, str] | None = None, schemes: bool = True) -> ChannelSet:
    """Validate a channels.yaml (file, line and hint per problem) into a ChannelSet.

    A missing file gives the built-in sink channels (sms, email, chat). `schemes=False`
    skips asking Apprise whether each URL's scheme exists — that import loads every
    Apprise plugin (about 0.6 s), which knowing the channels' names does not need.
    """
    from incident.validation import validated_file

    p = Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    secrets: dict[str, str] = {}
    if secrets_file:
        secrets.update(read_secrets_file(secrets_file))
    secrets.update({k: v for k, v in (os.environ if env is None else env).items() if v})
    if not p.exists():
        cs = default_channels()
        cs.secrets = {}
        return cs
    doc, issues, model = validated_file(p, ChannelsFile, "channels")
    if schemes:
        from incident.notify.sink import known_scheme
    else:
        def known_scheme(scheme: str) -> bool:
            return True

    chans: dict[str, Channel] = {}
    used: set[str] = set()
    d = model.defaults
    for name, spec in model.channels.items():
        where = ("channels", name)
        kind = spec.kind or (name if name in KINDS else None)
        if kind is None:
            doc.add(issues, where, "val.notify.needs_kind", "val.notify.hint_kind", name=name)
            continue
        url = spec.url.strip()
        m = _SCHEME.match(url)
        if not m:
            doc.add(issues, (*where, "url"), "val.notify.not_url", "val.notify.hint_url", url=url)
            continue
        if not known_scheme(m.group(1)):
            doc.add(issues, (*where, "url"), "val.notify.unknown_service",
                    Msg("val.notify.hint_services", {"url": "https://appriseit.com/services/"}),
                    scheme=m.group(1))
            continue
        fields = set(_FIELD.findall(_SECRET.sub("", url)))
        want = PLACEHOLDER[kind]
        bad = sorted(fields - {want, "address"})
        if bad:
            doc.add(issues, (*where, "url"), "val.notify.unknown_placeholder",
                    Msg("val.notify.hint_placeholder", {"kind": _kind(kind), "want": f"{{{want}}}",
                                                        "secret": "${NAME}"}),
                    placeholder=f"{{{bad[0]}}}")
            continue
        if not fields:
            doc.add(issues, (*where, "url"), "val.notify.no_recipient",
                    Msg("val.notify.hint_recipient", {"want": f"{{{want}}}", "kind": _kind(kind)}))
            continue
        names = tuple(dict.fromkeys(_SECRET.findall(url)))
        for var in names:
            if not secrets.get(var):
                doc.add(issues, (*where, "url"), "val.notify.secret_unset",
                        "val.notify.hint_secret_unset", severity="warning", var=f"${{{var}}}",
                        name=name)
        used.update(names)
        if schemes:
            problem = url_parse_problem(url, secrets)
            if problem:
                masked = Masker(secrets.values())  # a secret read back stays hidden
                problem = Msg(problem.key, {k: masked(str(v)) for k, v in problem.fields.items()})
                doc.add(issues, (*where, "url"), "val.notify.url_problem",
                        Msg("val.notify.hint_percent", {"codes": "%40 %3A %2F %23 %3F %26",
                                                        "secret": "${SECRET}"}),
                        severity="warning", name=name, problem=problem)
        chans[name] = Channel(
            name=name, kind=kind, url=url,
            concurrency=spec.concurrency or d.concurrency,
            rate=d.rate if spec.rate is None else spec.rate,
            timeout=(spec.timeout or d.timeout).total_seconds(),
            retries=d.retries if spec.retries is None else spec.retries,
            backoff=(spec.backoff or d.backoff).total_seconds(),
            subject=spec.subject if spec.subject is not None else kind != "sms",
            max_segments=spec.max_segments, secrets=names)
    issues.raise_if_errors()
    return ChannelSet(chans, doc.file, {k: v for k, v in secrets.items() if k in used},
                      [i for i in issues.items if i.severity == "warning"])


def channel_names(contacts_dir: str | Path) -> set[str]:
    """Names of the configured channels (for playbook validation); never raises."""
    try:
        return load_channels(channels_path(contacts_dir), env={}, schemes=False).names()
    except ValidationFailed:
        try:
            from incident.yamlsrc import parse_file

            data = parse_file(channels_path(contacts_dir)).data
            names = set((data or {}).get("channels") or {})
            return {str(n) for n in names} or set(KINDS)
        except Exception:
            return set(KINDS)
