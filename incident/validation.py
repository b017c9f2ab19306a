"""Typed validation errors for user-written YAML, shared by every loader.

Pydantic reports a problem as a `loc` tuple; users need the file, line, field path
and a fix. `pydantic_issues` turns each error into an Issue at the line where the
field was written (see incident.yamlsrc), with "did you mean" for unknown keys
taken from the model that owns them.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from incident.errors import IssueList, Msg, known, suggest
from incident.i18n import t
from incident.yamlsrc import Located, PathKey, dotted


def invalid(key: str, hint: str | Msg = "", **fields: Any) -> PydanticCustomError:
    """A validator's finding as a catalogue key and its fields, raised where a ValueError
    would be (``raise invalid("val.dir.bad_id", "hint.dir.id", value=v)``). pydantic
    reports it under `key`; `finding()` reads message and hint back; ``str()`` is the
    English "message — hint". A hint given as a key is filled with the same fields."""
    said = Msg(key, fields)
    told = Msg(hint, fields) if isinstance(hint, str) and hint else hint or None
    english = said.text("en")
    if told is not None:
        english += t("issue.hint_sep", "en") + told.text("en")
    ctx: dict[str, Any] = dict(fields)
    if told is not None:
        ctx["hint"] = told
    return PydanticCustomError(key, english, ctx)


def finding(error: Any) -> tuple[Msg | str, Msg | str]:
    """(message, hint) of a validator's error: one raised with `invalid()` (or any
    ``PydanticCustomError("val.…", …)``) as catalogue messages, told in any language;
    a plain ValueError("message — hint") or a pydantic error dict as its text."""
    if isinstance(error, PydanticCustomError):
        kind, ctx, text = error.type, error.context or {}, str(error)
    elif isinstance(error, dict):
        kind, ctx, text = str(error.get("type", "")), error.get("ctx") or {}, \
            str(error.get("msg", ""))
    else:
        kind, ctx, text = "", {}, str(error)
    if kind.startswith("val."):
        fields = {k: v for k, v in ctx.items() if k != "hint"}
        hint = ctx.get("hint") or ""
        if isinstance(hint, str) and hint:
            hint = Msg(hint, fields)
        return Msg(kind, fields), hint
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    message, sep, hint = text.partition(" — ")
    return (message, hint) if sep else (text, "")


#: pydantic's error types told from the catalogue (other types keep pydantic's text)
PYDANTIC_TYPES = {
    "missing": "val.type.missing", "extra_forbidden": "val.type.extra_forbidden",
    "string_type": "val.type.string_type", "int_type": "val.type.int_type",
    "int_parsing": "val.type.int_parsing", "int_from_float": "val.type.int_from_float",
    "bool_type": "val.type.bool_type", "bool_parsing": "val.type.bool_parsing",
    "float_type": "val.type.float_type", "float_parsing": "val.type.float_parsing",
    "list_type": "val.type.list_type", "dict_type": "val.type.dict_type",
    "model_type": "val.type.dict_type", "model_attributes_type": "val.type.dict_type",
    "tuple_type": "val.type.list_type",
    "literal_error": "val.type.literal_error", "enum": "val.type.literal_error",
    "too_short": "val.type.too_short", "too_long": "val.type.too_long",
    "greater_than": "val.type.greater_than", "greater_than_equal": "val.type.greater_than_equal",
    "less_than": "val.type.less_than", "less_than_equal": "val.type.less_than_equal",
    "string_too_short": "val.type.string_too_short",
    "string_too_long": "val.type.string_too_long",
    "string_pattern_mismatch": "val.type.string_pattern_mismatch",
    "date_type": "val.type.date_type", "date_parsing": "val.type.date_type",
    "date_from_datetime_parsing": "val.type.date_type",
    "datetime_type": "val.type.datetime_type", "datetime_parsing": "val.type.datetime_type",
    "datetime_from_date_parsing": "val.type.datetime_type",
    "timedelta_type": "val.type.timedelta_type", "timedelta_parsing": "val.type.timedelta_type",
    "none_required": "val.type.none_required",
}

#: Python's names for the values YAML gives, as a reader says them
_KIND_WORDS = {"str": "val.type.kind.str", "int": "val.type.kind.int",
               "float": "val.type.kind.float", "bool": "val.type.kind.bool",
               "NoneType": "val.type.kind.none", "dict": "val.type.kind.dict",
               "list": "val.type.kind.list", "date": "val.type.kind.date",
               "datetime": "val.type.kind.datetime"}


def kind_of(value: Any) -> Msg | str:
    """The kind of a written value ('dict', 'str' …) in the reader's words."""
    name = type(value).__name__
    return Msg(_KIND_WORDS[name]) if name in _KIND_WORDS else name


def _alternatives(expected: Any) -> Msg | Any:
    """pydantic's "'a', 'b' or 'c'" with the 'or' in the reader's language."""
    if not isinstance(expected, str) or " or " not in expected:
        return expected
    first, _, last = expected.rpartition(" or ")
    return Msg("val.type.one_of", {"first": first, "last": last})


def pydantic_message(err: Any) -> Msg | str:
    """A pydantic error's message from the catalogue, its ctx as fields; a custom
    ``val.…`` error as itself; an unmapped type as pydantic's own text."""
    kind = str(err.get("type", ""))
    if kind.startswith("val.") or kind in ("value_error", "assertion_error"):
        return finding(err)[0]
    key = PYDANTIC_TYPES.get(kind)
    if key is None:
        return str(err.get("msg", "")) or Msg("val.type.invalid")
    fields = dict(err.get("ctx") or {})
    if "expected" in fields:
        fields["expected"] = _alternatives(fields["expected"])
    return Msg(key, fields)


def data_path(data: Any, loc: tuple[Any, ...]) -> PathKey:
    """The part of a pydantic loc that indexes into the written data."""
    out: list[str | int] = []
    cur = data
    last = len(loc) - 1
    for i, part in enumerate(loc):
        if (isinstance(cur, dict) and isinstance(part, str | int) and part in cur) or (isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            out.append(part)
            cur = cur[part]
        elif i == last and isinstance(part, str) and part != "[key]" and isinstance(cur, dict):
            out.append(part)  # a missing key: where() will point at its parent
            cur = None
    return tuple(out)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else (args[0] if args else tp)
            if not models and len(args) != 1:
                return tp
        else:
            return tp


def model_at(root: type[BaseModel], path: PathKey) -> type[BaseModel] | None:
    """The model class whose fields are written at `path` (None if not a model)."""
    tp: Any = root
    for part in path:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(str(part))
            if info is None:
                return None
            tp = info.annotation
            continue
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is dict and len(args) == 2:
            tp = args[1]
        elif origin is list and args:
            tp = args[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def pydantic_issues(doc: Located, exc: ValidationError, issues: IssueList,
                    model: type[BaseModel]) -> None:
    """One Issue per pydantic error (unions report one per member: kept once)."""
    errors = exc.errors(include_url=False)
    # `due: 99999h` fails both members of `Duration | DueAfter`: the duration's own message
    # says what is wrong; "should be a valid dictionary" beside it only confuses
    explained = {data_path(doc.data, tuple(e["loc"])) for e in errors
                 if e["type"] == "value_error" or e["type"].startswith("val.")}
    for err in errors:
        loc = tuple(err["loc"])
        path = data_path(doc.data, loc)
        kind = err["type"]
        hint: Msg | str = ""
        if kind in ("model_type", "dict_type") and path in explained:
            continue
        got = err.get("input")
        msg: Msg | str
        if kind == "extra_forbidden":
            key = str(loc[-1])
            owner = model_at(model, path[:-1])
            fields = list(owner.model_fields) if owner else []
            msg = Msg("val.type.unknown_key", {"name": key})
            hint = suggest(key, fields) or (known(fields) if fields else
                                            Msg("val.type.unknown_key.hint"))
        elif kind == "missing":
            msg = Msg("val.type.missing_field", {"field": loc[-1]})
            hint = Msg("val.type.missing_field.hint")
        elif kind == "string_pattern_mismatch":
            msg = Msg("val.type.lower_id")
        elif kind == "value_error" or kind.startswith("val."):
            msg, hint = finding(err)
        elif kind in ("string_type", "int_type", "int_parsing", "bool_type", "float_parsing",
                      "list_type", "dict_type", "model_type"):
            said = pydantic_message(err)
            msg = Msg("val.type.got_a", {"message": said, "kind": kind_of(got)}) \
                if isinstance(got, dict | list) else \
                Msg("val.type.got", {"message": said, "kind": kind_of(got), "value": repr(got)})
            if isinstance(got, bool):
                hint = Msg("val.type.yaml_bool.hint")
        else:
            msg = pydantic_message(err)
        english = msg.text("en") if isinstance(msg, Msg) else msg
        if any(i.path == dotted(path) and i.message == english for i in issues.items):
            continue
        doc.add(issues, path, msg, hint)


def validated_file(path: Any, model: type[BaseModel], section: str) -> tuple[Any, IssueList, Any]:
    """A contacts YAML file parsed and checked against `model`: (doc, issues, instance).

    Raises ValidationFailed naming file:line:field (all of a file's problems at once)."""
    from pathlib import Path

    from incident.yamlsrc import parse_file

    doc = parse_file(path)
    issues = doc.issues()
    name = Path(path).name
    if not isinstance(doc.data, dict):
        doc.add(issues, (), Msg("val.yaml.top_mapping", {"name": name, "section": section}),
                Msg("val.yaml.top_mapping.hint", {"name": name}))
        issues.raise_if_errors()
    try:
        return doc, issues, model.model_validate(doc.data)
    except ValidationError as exc:
        pydantic_issues(doc, exc, issues, model)
        issues.raise_if_errors()
        raise  # pragma: no cover
