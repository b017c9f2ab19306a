"""Run a pydantic model over a Located YAML document and turn its errors into Issues.

pydantic's error `loc` is mapped back onto the data actually written (union tags
and '[key]' markers are dropped) so `Located.where()` can name the line; unknown
keys get a "did you mean" from the fields of the model they were written in.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from incident.errors import IssueList, known, suggest
from incident.validation import data_path, model_at
from incident.yamlsrc import Located

M = TypeVar("M", bound=BaseModel)


def describe(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"'{text}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def split_hint(text: str) -> tuple[str, str]:
    message, sep, hint = text.partition(" — ")
    return (message, hint) if sep else (text, "")


_TYPE_WORDS = {
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "dict_type": "expected a mapping (indented 'key: value' lines)",
    "model_type": "expected a mapping (indented 'key: value' lines)",
    "model_attributes_type": "expected a mapping (indented 'key: value' lines)",
    "list_type": "expected a list ('- item' lines or [a, b])",
}


def validate(model: type[M], located: Located, issues: IssueList) -> M | None:
    """Validate a whole document; on failure add one Issue per problem and return None."""
    data = located.data
    if not isinstance(data, dict):
        issues.add(f"expected a mapping of sections at the top of the file, got {describe(data)}",
                   line=1, hint="start with the section names, e.g. "
                   + ", ".join(f"'{k}:'" for k in list(model.model_fields)[:3]))
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
    hint = ""
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else str(loc[-1] if loc else "")
        owner = model_at(model, path[:-1])
        allowed = list(owner.model_fields) if owner else []
        message = f"unknown key '{key}'"
        hint = suggest(key, allowed) or (known(allowed) if allowed else "remove it")
    elif kind == "missing":
        key = str(path[-1]) if path else "?"
        message = f"missing required key '{key}'"
        hint = f"add '{key}:' here"
    elif kind in ("value_error", "assertion_error"):
        text = str(err.get("msg", ""))
        for prefix in ("Value error, ", "Assertion failed, "):
            text = text.removeprefix(prefix)
        message, hint = split_hint(text)
    elif kind in _TYPE_WORDS:
        message = f"{_TYPE_WORDS[kind]}, got {describe(value)}"
        if "[key]" in loc:
            message = f"key {describe(value)}: {message}"
    else:
        message = str(err.get("msg", "invalid value"))
    located.add(issues, path, message, hint)
