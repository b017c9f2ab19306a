"""SMS length: how many billed segments a text takes.

A text that fits the GSM 03.38 alphabet travels as GSM-7: 160 characters in one
segment, 153 per part when concatenated (the rest is the concatenation header);
characters of the extension table (``^{}\\[~]|€`` and form feed) count twice. Anything
else — any Chinese character — forces UCS-2: 70 UTF-16 units in one segment, 67 per
part when concatenated. Characters outside the BMP (emoji) take two UTF-16 units.
"""

from __future__ import annotations

import math

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"


def sms_units(text: str) -> tuple[str, int]:
    """(encoding, length in that encoding's units)."""
    septets = 0
    for ch in text:
        if ch in GSM7_BASIC:
            septets += 1
        elif ch in GSM7_EXTENDED:
            septets += 2
        else:
            return UCS2, len(text.encode("utf-16-le")) // 2
    return GSM7, septets


def sms_segments(text: str) -> tuple[str, int]:
    """(encoding, segments): ``("UCS-2", 2)`` for a 100-character Chinese text.

    An empty text takes no segment.
    """
    encoding, n = sms_units(text)
    if n == 0:
        return encoding, 0
    single, part = (160, 153) if encoding == GSM7 else (70, 67)
    return encoding, 1 if n <= single else math.ceil(n / part)
