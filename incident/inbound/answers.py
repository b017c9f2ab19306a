"""What a reply says: "1" / "ok" / "收到" / "确认" acknowledges a page; a roll call's
numbered answers are read by `parse_answer`.

`parse_answer` mirrors incident.engine.rollcall.parse_answer (helper h19b, issue 19):
that module owns the roll call's answers; this local copy lets inbound work before it
lands and is replaced by an import at merge.
"""

from __future__ import annotations

import re
import unicodedata

_STRIP = re.compile(r"[\s\.,!?;:'\"`~()\[\]{}<>，。！？；：、“”‘’（）【】《》…—-]+")

ACK_WORDS = frozenset({
    "1", "ok", "okay", "ack", "yes", "y", "received", "roger",
    "收到", "确认", "确认收到", "已收到", "收到了", "好", "好的", "已确认", "明白", "收到确认",
})

_ROLL = {
    "safe": ("1", "safe", "ok", "安全", "平安", "我安全", "已安全"),
    "help": ("2", "help", "needhelp", "sos", "需要帮助", "求助", "救命", "帮助"),
    "away": ("3", "away", "notathome", "nothome", "不在家", "外出", "不在"),
}
_ROLL_INDEX = {w: k for k, words in _ROLL.items() for w in words}


def fold(text: str) -> str:
    """Full-width to half-width, lower case, punctuation and spaces removed."""
    return _STRIP.sub("", unicodedata.normalize("NFKC", str(text or "")).lower())


def is_ack(text: str) -> bool:
    """Does a reply to a page acknowledge it? Only a short, unambiguous answer does:
    "1 but I cannot come" is recorded, not taken as an acknowledgement."""
    return fold(text) in ACK_WORDS


def parse_answer(text: str) -> str | None:
    """A roll call's answer: "safe", "help", "away", or None when unclear."""
    return _ROLL_INDEX.get(fold(text))
