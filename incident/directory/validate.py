"""Run a pydantic model over a Located YAML document and turn its errors into Issues.

pydantic's error `loc` is mapped back onto the data actually written (union tags
and '[key]' markers are dropped) so `Located.where()` can name the line; unknown
keys get a "did you mean" from the fields of the model they were written in.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from incident.errors import IssueList, Msg, known, suggest
from incident.validation import data_path, finding, model_at, pydantic_message
from incident.yamlsrc import Located

M = TypeVar("M", bound=BaseModel)


def describe(value: Any) -> Msg:
    """A written value as a finding names it ("the number 5", "a list")."""
    if value is None:
        return Msg("val.dir.got.none")
    if isinstance(value, bool):
        return Msg("val.dir.got.text", {"text": str(value).lower()})
    if isinstance(value, int | float):
        return Msg("val.dir.got.number", {"value": value})
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return Msg("val.dir.got.text", {"text": text})
    if isinstance(value, list):
        return Msg("val.dir.got.list")
    if isinstance(value, dict):
        return Msg("val.dir.got.mapping")
    return Msg("val.dir.got.other", {"kind": type(value).__name__})


def split_hint(text: str) -> tuple[str, str]:
    message, sep, hint = text.partition(" — ")
    return (message, hint) if sep else (text, "")


_TYPE_WORDS = {
    "string_type": "val.dir.expected.text",
    "int_type": "val.dir.expected.whole_number",
    "int_parsing": "val.dir.expected.whole_number",
    "int_from_float": "val.dir.expected.whole_number",
    "float_type": "val.dir.expected.number",
    "float_parsing": "val.dir.expected.number",
    "bool_type": "val.dir.expected.bool",
    "bool_parsing": "val.dir.expected.bool",
    "dict_type": "val.dir.expected.mapping",
    "model_type": "val.dir.expected.mapping",
    "model_attributes_type": "val.dir.expected.mapping",
    "list_type": "val.dir.expected.list",
}


def validate(model: type[M], located: Located, issues: IssueList) -> M | None:
    """Validate a whole document; on failure add one Issue per problem and return None."""
    data = located.data
    if not isinstance(data, dict):
        issues.add("val.dir.top_mapping", got=describe(data), line=1,
                   hint=Msg("val.dir.top_mapping.hint", {
                       "names": ", ".join(f"'{k}:'" for k in list(model.model_fields)[:3])}))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            add_error(err, model, located, issues)
        return None


def add_error(err: Any, model: type[BaseModel], located: Located, issues: IssueList) -> None:
    loc = tuple(err.get("loc", ()))
    path = data_path(located.data, loc)
    kind = err.get("type", "")
    value = err.get("input")
    hint: Msg | str = ""
    message: Msg | str
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else str(loc[-1] if loc else "")
        owner = model_at(model, path[:-1])
        allowed = list(owner.model_fields) if owner else []
        message = Msg("val.type.unknown_key", {"name": key})
        hint = suggest(key, allowed) or (known(allowed) if allowed else
                                         Msg("val.dir.remove_it"))
    elif kind == "missing":
        key = str(path[-1]) if path else "?"
        message = Msg("val.dir.missing_key", {"name": key})
        hint = Msg("val.dir.missing_key.hint", {"name": key})
    elif kind in ("value_error", "assertion_error") or kind.startswith("val."):
        message, hint = finding(err)
    elif kind in _TYPE_WORDS:
        message = Msg("val.dir.type_got", {"expected": Msg(_TYPE_WORDS[kind]),
                                           "got": describe(value)})
        if "[key]" in loc:
            message = Msg("val.dir.key_type", {"what": describe(value), "message": message})
    else:
        message = pydantic_message(err)
    located.add(issues, path, message, hint)
