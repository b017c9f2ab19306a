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

from incident.errors import IssueList, Msg, known, suggest
from incident.yamlsrc import Located, PathKey, dotted


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


def _told(error: Any) -> Msg | None:
    """A finding our own validators raise as PydanticCustomError("val.…", English, fields):
    its catalogue key with its fields, so every reader gets it in their language."""
    kind = str(error["type"])
    return Msg(kind, dict(error.get("ctx") or {})) if kind.startswith("val.") else None


def pydantic_issues(doc: Located, exc: ValidationError, issues: IssueList,
                    model: type[BaseModel]) -> None:
    """One Issue per pydantic error (unions report one per member: kept once)."""
    errors = exc.errors(include_url=False)
    # `due: 99999h` fails both members of `Duration | DueAfter`: the duration's own message
    # says what is wrong; "should be a valid dictionary" beside it only confuses
    explained = {data_path(doc.data, tuple(e["loc"])) for e in errors
                 if e["type"] == "value_error" or _told(e) is not None}
    for err in errors:
        loc = tuple(err["loc"])
        path = data_path(doc.data, loc)
        kind, msg, hint = err["type"], err["msg"], ""
        told = _told(err)
        if kind in ("model_type", "dict_type") and path in explained:
            continue
        got = err.get("input")
        if kind == "extra_forbidden":
            key = str(loc[-1])
            owner = model_at(model, path[:-1])
            fields = list(owner.model_fields) if owner else []
            msg = f"unknown key '{key}'"
            hint = suggest(key, fields) or (known(fields) if fields else
                                            "remove it, or check the spelling")
        elif kind == "missing":
            msg = f"missing required field '{loc[-1]}'"
            hint = "add it"
        elif kind == "string_pattern_mismatch":
            msg = "must be a lower-case id (letters, digits, underscore), e.g. 'call_119'"
        elif kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif kind in ("string_type", "int_type", "int_parsing", "bool_type", "float_parsing",
                      "list_type", "dict_type", "model_type"):
            msg = f"{msg} (got a {type(got).__name__})" if isinstance(got, dict | list) \
                else f"{msg} (got {type(got).__name__} {got!r})"
            if isinstance(got, bool):
                hint = "YAML reads yes/no/on/off as true/false: put quotes around text"
        if any(i.path == dotted(path) and i.message == msg for i in issues.items):
            continue
        doc.add(issues, path, told or msg, hint)  # type: ignore[arg-type]


def validated_file(path: Any, model: type[BaseModel], section: str) -> tuple[Any, IssueList, Any]:
    """A contacts YAML file parsed and checked against `model`: (doc, issues, instance).

    Raises ValidationFailed naming file:line:field (all of a file's problems at once)."""
    from pathlib import Path

    from incident.yamlsrc import parse_file

    doc = parse_file(path)
    issues = doc.issues()
    name = Path(path).name
    if not isinstance(doc.data, dict):
        doc.add(issues, (), f"{name} must be a mapping with a '{section}:' section",
                f"see the shipped contacts/{name}")
        issues.raise_if_errors()
    try:
        return doc, issues, model.model_validate(doc.data)
    except ValidationError as exc:
        pydantic_issues(doc, exc, issues, model)
        issues.raise_if_errors()
        raise  # pragma: no cover
