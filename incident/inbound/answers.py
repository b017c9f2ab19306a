"""What a reply says: "1" / "ok" / "收到" / "确认" acknowledges a page; a roll call's
numbered answers are read by incident.engine.rollcall.parse_answer (the roll call owns
its answers; it is re-exported here for the router).
"""

from __future__ import annotations

import re
import unicodedata

from incident.engine.rollcall import parse_answer

_STRIP = re.compile(r"[\s\.,!?;:'\"`~()\[\]{}<>，。！？；：、“”‘’（）【】《》…—-]+")

ACK_WORDS = frozenset({
    "1", "ok", "okay", "ack", "yes", "y", "received", "roger",
    "收到", "确认", "确认收到", "已收到", "收到了", "好", "好的", "已确认", "明白", "收到确认",
})



def fold(text: str) -> str:
    """Full-width to half-width, lower case, punctuation and spaces removed."""
    return _STRIP.sub("", unicodedata.normalize("NFKC", str(text or "")).lower())


def is_ack(text: str) -> bool:
    """Does a reply to a page acknowledge it? Only a short, unambiguous answer does:
    "1 but I cannot come" is recorded, not taken as an acknowledgement."""
    return fold(text) in ACK_WORDS


__all__ = ["ACK_WORDS", "fold", "is_ack", "parse_answer"]
