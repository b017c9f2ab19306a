"""Every word a person reads, in their language, from one catalogue.

The catalogue is a pair of gettext files, ``incident/locale/<locale>/LC_MESSAGES/
incident.po``, compiled to ``.mo`` and read here through the standard library (no
Babel at runtime). Messages are looked up by *symbolic key* ("home.active",
"report_title"), so the English text is a translation like any other and a change of
wording never changes the code.

- ``t(key, lang, **fields)``: one message, ``{name}`` fields filled in.
- ``nt(key, count, lang, **fields)``: a message with plural forms ("1 person", "2 people";
  Chinese has one form). ``count`` is also the ``{n}`` field unless one is given.
- ``pick(texts, lang)``: data-borne bilingual text from YAML ({"en": …, "zh": …}),
  chosen by the same language rule.
- ``N_(key)``: marks a key for the extractor where the call to ``t`` is indirect
  (a key kept in a table and translated later).

Language: whatever the reader asked for ("en", "zh", "zh_CN", "zh-Hans", …) maps to
a shipped locale; anything unknown reads English. A key missing from the reader's
catalogue falls back to English, then to the key itself, so a gap shows up on screen
instead of crashing. ``tools/i18n.py check`` (and tests/test_catalogue.py) keep the
catalogues complete.
"""

from __future__ import annotations

import gettext
import unicodedata
from collections.abc import Mapping
from functools import cache
from pathlib import Path

DOMAIN = "incident"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "en"
#: The shipped catalogues, and the short code each uses in bilingual YAML data.
LOCALES: dict[str, str] = {"en": "en", "zh_CN": "zh"}


def locale_of(lang: str | None) -> str:
    """The shipped locale for a reader's language: 'zh', 'zh_CN', 'zh-Hans' → 'zh_CN';
    'en', 'en_GB' and anything unknown → 'en'."""
    code = (lang or "").replace("-", "_").split(".")[0]
    if code in LOCALES:
        return code
    if code.lower().startswith("zh"):
        return "zh_CN"
    return DEFAULT_LOCALE


def data_lang(lang: str | None) -> str:
    """The short code ('en' or 'zh') bilingual YAML data is keyed by."""
    return LOCALES[locale_of(lang)]


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalogue of a shipped locale, with English behind it."""
    try:
        tr: gettext.NullTranslations = gettext.translation(
            DOMAIN, LOCALE_DIR, languages=[locale])
    except OSError:
        tr = gettext.NullTranslations()
    if locale != DEFAULT_LOCALE:
        tr.add_fallback(translations(DEFAULT_LOCALE))
    return tr


class _Keep(dict):
    """Format fields a caller forgot stay visible as ``{name}`` instead of crashing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(text: str, fields: Mapping[str, object]) -> str:
    if not fields:
        return text
    try:
        return text.format_map(_Keep(fields))
    except (IndexError, ValueError, AttributeError, TypeError):
        return text


def t(key: str, lang: str | None = "en", **fields: object) -> str:
    """The message `key` in the reader's language, fields filled in."""
    return _fill(translations(locale_of(lang)).gettext(key), fields)


def nt(key: str, count: int, lang: str | None = "en", **fields: object) -> str:
    """The plural form of message `key` for `count` ({n} is `count` unless given)."""
    fields.setdefault("n", count)
    return _fill(translations(locale_of(lang)).ngettext(key, key, count), fields)


def N_(key: str) -> str:
    """Mark `key` for extraction without translating it here."""
    return key


def has(key: str, lang: str | None = "en") -> bool:
    """Whether the catalogue (or English behind it) holds `key`."""
    return translations(locale_of(lang)).gettext(key) != key


def pick(texts: Mapping[str, str] | str | None, lang: str | None, fallback: str = "") -> str:
    """Data-borne bilingual text ({'en': …, 'zh': …}) in the reader's language, else
    English, else whatever language is there; a plain string (older events, one-language
    data) reads the same in every language."""
    if not texts:
        return fallback
    if isinstance(texts, str):
        return texts
    want = data_lang(lang)
    return (texts.get(want) or texts.get("en") or next((v for v in texts.values() if v), "")
            or fallback)


def pair(texts: tuple[str, str], lang: str | None, **fields: object) -> str:
    """An (English, Chinese) pair from a staging table not yet moved into the catalogue
    (see ``tools/i18n.py import-table``), fields filled in."""
    return _fill(texts[1] if data_lang(lang) == "zh" else texts[0], fields)


def status_label(status: str, lang: str | None = "en") -> str:
    """A step, target, clock or incident status in the reader's words ("not_yet_due" →
    "not yet due" / "未到期"); an unknown status shows as itself."""
    key = f"status.{status}"
    return t(key, lang) if has(key) else status


#: outbox row states (store.records.OUTBOX_STATES) as the reader says them
OUTBOX_STATES = {
    "queued": N_("outbox.queued"), "sending": N_("outbox.sending"), "sent": N_("outbox.sent"),
    "failed_temporary": N_("outbox.failed_temporary"),
    "failed_permanent": N_("outbox.failed_permanent"), "fell_back": N_("outbox.fell_back"),
    "cancelled": N_("outbox.cancelled")}


def outbox_state(state: str, lang: str | None) -> str:
    """A message's delivery state in the reader's words ("failed_permanent" → "最终失败")."""
    return t(OUTBOX_STATES[state], lang) if state in OUTBOX_STATES else state


def channel_name(channel: str, lang: str | None) -> str:
    """A delivery channel in the reader's words ("sms" → "sms" / "短信"); a channel the
    catalogue does not know (a site's own name) stays as configured."""
    key = f"channel.{channel}"
    return t(key, lang) if has(key) else channel


def means_name(by: str, lang: str | None) -> str:
    """How a report to authorities is made ("written" → "in writing" / "书面")."""
    key = f"means.{by}"
    return t(key, lang) if has(key) else by


def with_unit(value: object, unit: str | None, lang: str | None) -> str:
    """A recorded value with its playbook unit in the reader's words ("42 people" /
    "42 人"); a unit the catalogue does not know is written after the value as is."""
    if not unit:
        return str(value)
    key = f"unit.{unit}"
    if not has(key):
        return f"{value} {unit}"
    try:
        count = int(str(value))
    except ValueError:  # "3.5", or a list: the plural form reads right
        count = 2
    return nt(key, count, lang, n=value)


def bilingual(key: str, **fields: object) -> dict[str, str]:
    """One message in every shipped language, keyed as bilingual data ({'en': …, 'zh': …})
    for text written once and read later in either (event payloads, timer labels). A
    field holding bilingual text ({'en': …} or a Text) is filled in each language."""
    def one(value: object, lang: str) -> object:
        get = getattr(value, "get", None)
        return get(lang) if callable(get) and not isinstance(value, str) else value

    return {code: t(key, code, **{k: one(v, code) for k, v in fields.items()})
            for code in LOCALES.values()}


def in_sentence(title: str, lang: str | None) -> str:
    """A title as it reads inside a sentence: lower case in English ("a fire at B3"),
    as it is in Chinese (which has no case)."""
    return title if data_lang(lang) == "zh" else title.lower()


def sentence_start(text: str, lang: str | None) -> str:
    """A sentence as it begins: a capital first letter in English ("Chen Jie took…"), as it
    is in Chinese (which has no case, and keeps a Latin id like "chen.jie" as written)."""
    if data_lang(lang) == "zh" or not text[:1].islower():
        return text
    return text[:1].upper() + text[1:]


def join_list(items: list[str], lang: str | None) -> str:
    """Items joined the way the reader's language lists them ('a, b' / 'a、b')."""
    return t("list.sep", lang).join(items)


def char_columns(ch: str) -> int:
    """Terminal columns of one character: two for a wide (Chinese) one, else one."""
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def columns(text: str) -> int:
    """Terminal columns of `text` (a Chinese character takes two)."""
    return sum(map(char_columns, text))


def pad(text: str, width: int, cut: bool = False) -> str:
    """`text` padded to `width` terminal columns (a Chinese character takes two), and
    with `cut` shortened to fit, ending in '…'."""
    cols = [char_columns(ch) for ch in text]
    if cut and sum(cols) > width:
        used, n = 0, 0
        while used + cols[n] <= width - 1:  # room for the '…'; never runs past: sum > width
            used, n = used + cols[n], n + 1
        return text[:n] + "…" + " " * (width - 1 - used)
    return text + " " * max(0, width - sum(cols))
