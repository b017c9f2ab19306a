"""Message templates: Jinja2's sandbox, strict about undefined names, with limits.

A notice that silently prints a blank where the restoration time should be is
worse than no notice, so every name a template uses must be known at load time.
And anything that would fail when the message is sent — dividing by zero, a
``range`` over a billion numbers, ``'x' * 10**9``, reaching for ``__class__`` —
must fail when the playbook is loaded, with the file and line, not in the middle
of an incident: ``check`` renders every template against representative values
in the same limited sandbox that sends the messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from incident.errors import Msg

# Fields every incident provides to its messages (see engine.context).
INCIDENT_VARS: dict[str, str] = {
    "incident_id": "the incident number, e.g. INC-260105-0001",
    "site": "site name in the recipient's language",
    "building": "building name in the recipient's language (or empty)",
    "floor": "incident floor number (or empty)",
    "floors": "affected floors, e.g. '11-13'",
    "unit": "incident unit id (or empty)",
    "location": "full location label in the recipient's language",
    "time": "incident start, site-local HH:MM",
    "date": "incident start, site-local date",
    "hotline": "the site's service hotline",
    "assembly_point": "the named assembly point of the incident's building (estate.yaml)",
    "sign_off": "the estate's sign-off line (estate.yaml site.sign_off)",
    "severity": "severity level number",
    "severity_name": "severity name in the recipient's language",
    "playbook": "playbook title in the recipient's language",
    "name": "recipient's name",
    "recipient_unit": "recipient's own unit (owners)",
}

MAX_OUTPUT = 20_000   # characters in one rendered subject or body (an SMS is 70)
MAX_RANGE = 1_000     # items a template's range() may produce
MAX_REPEAT = 10_000   # characters or items a '*' may produce
MAX_POWER = 64        # largest exponent of '**'

# Filters a message has any use for; the ones that pad or repeat to a size given as a
# number (center, indent, wordwrap, format…) or reach into objects (attr, map…) are left out.
SAFE_FILTERS = ("abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float",
                "int", "join", "last", "length", "lower", "max", "min", "replace", "reverse",
                "round", "string", "striptags", "sum", "title", "trim", "truncate", "unique",
                "upper", "wordcount")


_WIDE = re.compile(r"%[^a-zA-Z%]*\d{5,}")


class TemplateLimit(TemplateError):
    """A template went past one of the limits above; `said` tells it in any language."""

    def __init__(self, said: Msg):
        self.said = said
        super().__init__(said.text("en"))


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise TemplateLimit(Msg("val.pb.limit_range", {"n": f"{len(r):,}",
                                                       "max": f"{MAX_RANGE:,}"}))
    return r


class LimitedSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no attribute starting with '_', no unsafe calls) plus limits on
    the arithmetic that can eat memory or CPU, and on division by zero."""

    intercepted_binops = frozenset({"*", "**", "/", "//", "%"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ in ("/", "//", "%") and isinstance(right, int | float) and right == 0 \
                and not (operator_ == "%" and isinstance(left, str)):
            raise TemplateLimit(Msg("val.pb.limit_zero", {"op": operator_}))
        if operator_ == "**" and isinstance(right, int | float) and (
                abs(right) > MAX_POWER
                or (isinstance(left, int) and left.bit_length() * abs(right) > 4096)):
            raise TemplateLimit(Msg("val.pb.limit_power", {"exp": right, "max": MAX_POWER}))
        if operator_ == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) \
                        and len(seq) * n > MAX_REPEAT:
                    raise TemplateLimit(Msg("val.pb.limit_repeat", {
                        "n": f"{len(seq) * n:,}", "max": f"{MAX_REPEAT:,}"}))
        if operator_ == "%" and isinstance(left, str) and _WIDE.search(left):
            raise TemplateLimit(Msg("val.pb.limit_width"))
        return super().call_binop(context, operator_, left, right)

    def wrap_str_format(self, value: Any) -> None:
        return None  # no str.format at all (see is_safe_attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # str.format/format_map take widths from the text ('{:>999999999}')
        return attr not in ("format", "format_map") and super().is_safe_attribute(obj, attr,
                                                                                  value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # 'x'.zfill(10**8), .ljust(), .center(), .expandtabs(): sizes come from arguments
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) \
                    and abs(value) > MAX_REPEAT:
                raise TemplateLimit(Msg("val.pb.limit_call", {"n": f"{value:,}",
                                                              "max": f"{MAX_REPEAT:,}"}))
        return super().call(__context, __obj, *args, **kwargs)


_env = LimitedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_env.filters = {name: _env.filters[name] for name in SAFE_FILTERS}
_env.globals = {"range": _range}


@lru_cache(maxsize=2048)
def _parsed(source: str) -> nodes.Template:
    return _env.parse(source)


def undeclared(source: str) -> set[str]:
    """Names a template uses; raises TemplateSyntaxError."""
    return set(meta.find_undeclared_variables(_parsed(source)))


# filters that turn any value into text without failing (first/sum/round/abs can fail)
_NEVER_FAIL = frozenset({"upper", "lower", "title", "capitalize", "trim", "e", "escape",
                         "string", "length", "count", "striptags", "wordcount", "default",
                         "d"})
_PLAIN = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const)


def _plain(source: str) -> bool:
    """Only text, {{ names }} and argument-free safe filters: nothing that can fail once
    the names are known (checked by undeclared), so no need to compile and render."""
    for node in _parsed(source).find_all(nodes.Node):
        if isinstance(node, nodes.Filter):
            if node.args or node.kwargs or node.dyn_args or node.dyn_kwargs \
                    or node.name not in _NEVER_FAIL:
                return False
        elif not isinstance(node, _PLAIN):
            return False
    return True


def private_names(source: str) -> list[str]:
    """Attributes or keys starting with '_' (``''.__class__``, ``x['__globals__']``): the
    sandbox would refuse them at send time; they are refused at load instead."""
    found: list[str] = []
    for node in _parsed(source).find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else \
            getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            found.append(name)
    return sorted(set(found), key=source.find)


@lru_cache(maxsize=2048)
def _compiled(source: str):
    return _env.from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    out = _compiled(source).render(**context).strip()
    if len(out) > MAX_OUTPUT:
        raise TemplateLimit(Msg("val.pb.limit_output", {"n": f"{len(out):,}",
                                                        "max": f"{MAX_OUTPUT:,}"}))
    return out


def sample_contexts(names: Iterable[str], records: dict[str, str] | None = None,
                    defaults: dict[str, str | None] | None = None
                    ) -> list[tuple[str, dict[str, Any]]]:
    """Representative values for checking templates at load: an incident on a unit with
    every value known, and one for a whole building before anything was recorded."""
    records = records or {}
    defaults = defaults or {}
    full: dict[str, Any] = {
        "incident_id": "INC-260105-0001", "site": "Harbour View", "building": "Building 3",
        "floor": 12, "floors": "11-13", "unit": "B3-1201",
        "location": "Building 3, 12F, unit 1201", "time": "03:00", "date": "2026-01-05",
        "hotline": "400-800-1234", "assembly_point": "North Plaza",
        "sign_off": "Harbour View Property Service Centre", "severity": 1, "severity_name": "Major",
        "playbook": "Fire", "name": "Zhang Wei", "recipient_unit": "B3-0801",
    }
    sample = {"int": 3, "number": 2.5, "list": ["a", "b"], "text": "sample"}
    for name in names:
        if name in records:
            full.setdefault(name, sample.get(records[name], "sample"))
        else:
            full.setdefault(name, defaults.get(name) or "sample")
    sparse = dict(full, floor="", floors="", unit="", name="", recipient_unit="")
    for name in names:
        if name in records:
            sparse[name] = ""
        elif name in defaults:
            sparse[name] = defaults.get(name) or ""
    return [("sample values", full),
            ("no floor, unit or recipient and nothing recorded yet", sparse)]


def private_problem(source: str) -> Msg | None:
    bad = private_names(source)
    if not bad:
        return None
    names = ", ".join(f"'{n}'" for n in bad)
    return Msg("val.pb.template_private", {"names": names})


#: The sample contexts' labels, as findings name them.
_LABELS = {"sample values": "val.pb.sample_full",
           "no floor, unit or recipient and nothing recorded yet": "val.pb.sample_sparse"}


def check(source: str, contexts: list[tuple[str, dict[str, Any]]]) -> Msg | None:
    """Why the template would fail when a message is sent, or None."""
    problem = private_problem(source)
    if problem:
        return problem
    if _plain(source):
        return None
    for label, ctx in contexts:
        said: Msg | str = Msg(_LABELS[label]) if label in _LABELS else label
        try:
            render(source, ctx)
        except TemplateLimit as exc:
            return Msg("val.pb.template_limit", {"label": said, "problem": exc.said})
        except TemplateError as exc:  # Jinja's own words
            return Msg("val.pb.template_fails", {
                "label": said, "problem": exc.message or type(exc).__name__})
        except Exception as exc:  # ZeroDivisionError, TypeError, OverflowError, ...
            return Msg("val.pb.template_fails", {
                "label": said, "problem": f"{type(exc).__name__}: {exc}"})
    return None


__all__ = ["INCIDENT_VARS", "TemplateLimit", "TemplateSyntaxError", "check", "private_problem",
           "render",
           "sample_contexts", "undeclared"]
