"""Phone numbers, e-mail addresses, chat ids and languages as people write them.

Phones are stored in E.164 ("+8613812345678"). The common mainland mobile forms
take a fast path; anything else goes through `phonenumbers` (region CN).
Each check raises a ValueError made by `incident.validation.invalid` (a catalogue
message and hint; `incident.validation.finding` reads them back).
"""

from __future__ import annotations

import re

import phonenumbers

from incident.errors import Msg
from incident.validation import invalid

_SEPARATORS = re.compile(r"[\s\-().\u00a0\u3000]")
_MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_SHORT = re.compile(r"^[1-9]\d{2,5}$")  # 110, 119, 120, 12345, 95598, 962777
_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$")
_CHAT = re.compile(r"^[^\s]{1,64}$")
# local parts every mail sender reads the same way; anything else is checked against
# how Apprise (which sends our e-mail) will parse it
_PLAIN_LOCAL = re.compile(r"^[A-Za-z0-9._+-]+$")

MOBILE_HINT = "write 11 digits like 13812345678 or +8613812345678"
_MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE,
                 phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)

_LANG_ALIASES = {
    "zh": "zh", "zh-cn": "zh", "zh_cn": "zh", "zh-hans": "zh", "cn": "zh", "chinese": "zh",
    "中文": "zh", "汉语": "zh", "普通话": "zh",
    "en": "en", "en-us": "en", "en-gb": "en", "english": "en", "英文": "en", "英语": "en",
}


def _clean(text: str) -> str:
    return _SEPARATORS.sub("", text)


def mobile(text: str) -> str:
    """A mobile number in E.164, or ValueError. Mainland first; '+44…' etc. accepted."""
    raw = str(text).strip()
    compact = _clean(raw)
    m = _MOBILE.match(compact)
    if m:
        return "+86" + m.group(1)
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", raw):
        raise invalid("val.dir.sci_phone", "hint.dir.sci_phone", value=raw,
                      mobile=Msg("hint.dir.mobile"))
    if compact.startswith(("+", "00")) and not compact.startswith(("+86", "0086")):
        try:
            number = phonenumbers.parse("+" + compact.lstrip("+0") if compact.startswith("00")
                                        else compact, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_valid_number(number) \
                and phonenumbers.number_type(number) in _MOBILE_TYPES:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        raise invalid("val.dir.bad_mobile", "hint.dir.intl_mobile", value=raw,
                      mobile=Msg("hint.dir.mobile"))
    raise invalid("val.dir.bad_mainland_mobile", "hint.dir.mobile", value=raw)


def any_phone(text: str) -> str:
    """Mobile, landline (E.164) or a service short code (119, 95598) kept as digits."""
    raw = str(text).strip()
    compact = _clean(raw)
    m = _MOBILE.match(compact)
    if m:
        return "+86" + m.group(1)
    if _SHORT.match(compact):
        return compact
    try:
        number = phonenumbers.parse(compact, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise invalid("val.dir.bad_phone", "hint.dir.phone", value=raw)


def dialable(text: str) -> str:
    """A number for people to dial, kept as written ('021-5988 6600', '119') once valid."""
    any_phone(text)
    return " ".join(str(text).split())


def email(text: str) -> str:
    raw = str(text).strip()
    if not _EMAIL.match(raw) or ".." in raw:
        raise invalid("val.dir.bad_email", "hint.dir.email", value=raw)
    local, _, domain = raw.rpartition("@")
    address = f"{local}@{domain.lower()}"
    if not _PLAIN_LOCAL.match(local):
        read_as = sender_reads(address)
        if (read_as or "").lower() != address.lower():
            raise invalid("val.dir.email_misread", "hint.dir.email_misread", value=raw,
                          read=repr(read_as) if read_as else Msg("val.dir.email_no_address"))
    return address


def sender_reads(address: str) -> str | None:
    """The address Apprise's e-mail plugins will really send to, or None if it cannot
    read one. The one check shared with the sender: Apprise reads "o'neil@x.cn" as the
    name "o" and the address "neil@x.cn" — another person's mailbox."""
    from apprise.utils.parse import is_email  # loads Apprise (~0.3 s): rare addresses only

    found = is_email(address)
    if not found or found.get("name"):
        return found.get("full_email") if found else None
    return str(found.get("full_email") or "") or None


def chat(text: str) -> str:
    raw = str(text).strip()
    if not _CHAT.match(raw):
        raise invalid("val.dir.bad_chat", "hint.dir.chat", value=raw)
    return raw


def lang(text: str) -> str:
    raw = str(text).strip()
    found = _LANG_ALIASES.get(raw.lower())
    if found is None:
        raise invalid("val.dir.bad_lang", "hint.dir.lang", value=raw)
    return found
