"""The weekly shift rota, compiled to minute-of-week intervals per role.

Minute 0 is Monday 00:00 in the site's time zone. A night shift that ends the
next morning runs across midnight; Sunday night wraps round to Monday morning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WEEK = 7 * 24 * 60


@dataclass(frozen=True, slots=True)
class Shift:
    id: str
    name: dict[str, str]
    start: int  # minutes after midnight
    end: int  # minutes after midnight; <= start means the next day

    @property
    def hours(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:" \
               f"{self.end % 60:02d}"


@dataclass(frozen=True, slots=True)
class Slot:
    start: int  # minute of week, inclusive
    end: int  # minute of week, exclusive
    people: tuple[str, ...]
    shift: str


@dataclass(slots=True)
class Rota:
    slots: dict[str, list[Slot]] = field(default_factory=dict)  # role -> slots

    def add(self, role: str, shift: Shift, day: int, people: tuple[str, ...]) -> None:
        start = day * 1440 + shift.start
        length = (shift.end - shift.start) % 1440 or 1440
        end = start + length
        target = self.slots.setdefault(role, [])
        if end <= WEEK:
            target.append(Slot(start, end, people, shift.id))
        else:
            target.append(Slot(start, WEEK, people, shift.id))
            target.append(Slot(0, end - WEEK, people, shift.id))

    def at(self, role: str, minute: int) -> list[str]:
        out: list[str] = []
        for slot in self.slots.get(role, ()):
            if slot.start <= minute < slot.end:
                out.extend(p for p in slot.people if p not in out)
        return out

    def gaps(self, role: str) -> list[tuple[int, int]]:
        """(weekday, hour) of every hour in which some minute has nobody rostered."""
        covered = bytearray(WEEK)
        for slot in self.slots.get(role, ()):
            if slot.people:
                covered[slot.start:slot.end] = b"\x01" * (slot.end - slot.start)
        out = []
        for hour in range(7 * 24):
            chunk = covered[hour * 60:(hour + 1) * 60]
            if chunk.count(0):
                out.append(divmod(hour, 24))
        return out
