"""Who is acting: staff from the directory, known by their login or their credential.

Every face (CLI, console, the served console) asks this module who is at the keyboard
before it writes. Staff in staff.yaml are the only actors; `system` is reserved for
the system's own entries. `access.identify_by` in staff.yaml decides how the person at
the keyboard is known:

- `login` (default): their operating-system login (`login:` in staff.yaml); the
  `user` setting / INCIDENT_USER may only repeat it.
- `declared`: the `user` setting / INCIDENT_USER (or `--as` when no user is set)
  names the staff id — for demos and a shared control-room PC. It is trust, not
  proof: a second-person confirmation then always needs the confirmer's PIN.

Acting *for* someone else (`--as COLLEAGUE` differing from the keyboard person) is
allowed only to staff with `enters_for: true`, and is recorded "entered by X for Y".
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from incident.errors import Refused, known, suggest

if TYPE_CHECKING:
    from incident.directory import Directory

SYSTEM_ACTOR = "system"  # as incident.directory.models (not imported: `status` reads no roster)

# how a person was identified; the first three prove it, "declared" only states it
PROVEN = frozenset({"login", "pin", "served"})


class Actor(str):
    """A staff id as the engine records it, remembering how the person was known and,
    when someone else typed it, who did (the event says "entered by X for Y")."""

    how: str
    entered_by: str | None

    def __new__(cls, person: str, *, how: str = "declared",
                entered_by: str | None = None) -> Actor:
        obj = super().__new__(cls, person)
        obj.how = how
        obj.entered_by = entered_by
        return obj

    @property
    def proven(self) -> bool:
        """Identified by their own login or credential, not by a typed id."""
        return self.how in PROVEN and self.entered_by is None


def os_login() -> str:
    """The operating-system login running this process ('' when there is none)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no passwd entry (containers) or no USER
        return ""


#: who a command asks for (staff_id's `what`), in either language
WHO = {
    "acting person": {"en": "acting person", "zh": "操作人"},
    "confirming person": {"en": "confirming person", "zh": "复核人"},
    "person at the keyboard": {"en": "person at the keyboard", "zh": "当前操作人"},
    "person": {"en": "person", "zh": "人员"},
    "person to act for": {"en": "person to act for", "zh": "代为操作的对象"},
    "person entering": {"en": "person entering", "zh": "录入人"},
}


def staff_id(directory: Directory, person: str | None, *, what: str = "acting person") -> str:
    """A known staff id, or Refused naming the fix. `system` is reserved; an empty or
    unknown id is never silently replaced by a default."""
    pid = (person or "").strip()
    if not pid:
        raise Refused("refused.identity.none_given", what=WHO.get(what, what))
    if pid == SYSTEM_ACTOR:
        raise Refused("refused.identity.system_reserved", system=SYSTEM_ACTOR)
    if pid not in directory.staff:
        raise Refused("refused.identity.not_staff", person=pid,
                      hint=suggest(pid, directory.staff) or known(directory.staff))
    return pid


def keyboard_person(directory: Directory, declared: str | None = None, *,
                    login: str | None = None) -> Actor:
    """The staff member at this keyboard. `declared`: the `user` setting (or --as when
    nothing is set); `login`: the OS login (default: this process's)."""
    access = directory.access
    login = os_login() if login is None else login
    by_login = access.logins.get(login) if login else None
    declared = (declared or "").strip() or None
    if access.identify_by == "declared":
        if declared is not None:
            return Actor(staff_id(directory, declared), how="declared")
        if by_login is not None:
            return Actor(by_login, how="login")
        raise Refused("refused.identity.who_is_acting")
    if by_login is None:
        raise Refused("refused.identity.unknown_login", login=login or "?",
                      name=login or "NAME")
    if declared is not None and declared != by_login:
        raise Refused("refused.identity.login_mismatch", declared=declared, login=login,
                      person=by_login)
    return Actor(by_login, how="login")


def acting_person(directory: Directory, keyboard: Actor, as_person: str | None) -> Actor:
    """Who an act is recorded for: the keyboard person, or `as_person` entered for them
    by the keyboard person when staff.yaml lets them (`enters_for: true`)."""
    if as_person is None or as_person.strip() == str(keyboard):
        return keyboard
    target = staff_id(directory, as_person, what="person to act for")
    if str(keyboard) not in directory.access.enters_for:
        raise Refused("refused.identity.may_not_act_for", keyboard=str(keyboard), target=target)
    return Actor(target, how=keyboard.how, entered_by=str(keyboard))


def entered_by(actor: str) -> str | None:
    """Who typed an act recorded for `actor` (None when they did it themselves)."""
    return getattr(actor, "entered_by", None)
