"""The estate directory: site → building → floor → unit, people, roles, rota, vendors.

Files in the contacts folder (all hand-written YAML except the roster):

- ``estate.yaml`` — the site, its buildings (floors and units in compact ranges),
  named places (car park levels, pump and switch rooms), assembly points and
  external numbers (119, 110, 120, utilities, residents' committee).
- ``staff.yaml`` — roles with escalation levels and fallbacks, staff, shifts and the
  weekly rota (site-local time).
- ``vendors.yaml`` — contractors with their contracted arrival time.
- ``owners.csv`` — the owner roster (columns documented in
  :mod:`incident.directory.roster`).

``load_directory(path)`` validates everything and raises ``ValidationFailed`` with
every error of every file; warnings stay on ``Directory.warnings``.

Audience selectors
------------------
A selector names who receives a message. Whitespace-separated terms are ANDed;
``|`` (or a YAML list of selectors) unions alternatives. Each person appears
once in the result, in a stable order (first alternative first; staff in
staff.yaml order, owners in roster order).

Population terms (if none is given, the population is all owners and staff):

=================  ===============================================================
``owners``         every owner in the roster
``staff``          every staff member
``role:ID``        staff holding the role
``on_duty:ROLE``   staff rostered for the role at the incident time (else the
                   role's fallback person); needs ``at=``
``person:ID``      one person (staff id, or an owner id like ``owner:B3-1201:1``)
``vendor:ID``      one vendor, or every vendor of a kind (``vendor:plumbing``)
``vendors``        every vendor
=================  ===============================================================

Filter terms:

=======================  =========================================================
``site:ID``              the site (there is one per directory)
``building:ID``          people living in the building; ``building:@`` = the
                         incident's building
``floor:N``              one floor; ``floor:@``, ``floor:@+1``, ``floor:-1``
``floors:A..B``          a floor range, e.g. ``floors:11..13``; relative bounds
                         ``floors:@-1..@+1`` are clamped to the building's floors
``unit:ID``              one unit; ``unit:@`` = the incident's unit
``tag:NAME``             owners with a roster tag (``tag:car_owner``)
``vulnerable``           owners with any vulnerability; ``vulnerable:KIND`` one of
                         elderly_alone, disability, infant, patient
``lang:zh`` / ``lang:en`` the message language
=======================  =========================================================

A relative term (``@``) needs the incident location: without one (or when the
location has no floor/unit) ``resolve`` raises ``SelectorError``. A relative floor
term also limits the audience to the incident's building. Examples::

    owners building:@ floors:@-1..@+1      # the fire floor and the floors around it
    vulnerable building:B3 | on_duty:security
    owners tag:car_owner                   # move cars out of the basement
    role:engineering | vendor:elevator_maintenance
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time names load on first use
    from incident.directory.directory import Directory
    from incident.directory.loader import RosterImport, import_roster, load_directory
    from incident.directory.models import (
        VULNERABLE_KINDS,
        Access,
        Building,
        External,
        Location,
        Person,
        Place,
        Recipient,
        Role,
        Site,
        Unit,
        Vendor,
    )
    from incident.directory.roster import RosterResult, read_roster
    from incident.directory.rota import Shift
    from incident.directory.selector import Selector, SelectorError, Term, parse_selector

# Each name is imported from its module on first use (PEP 562), so a command pays
# only for what it touches (README, "Start-up").
_LAZY = {
    'Directory': 'directory',
    'RosterImport': 'loader',
    'import_roster': 'loader',
    'load_directory': 'loader',
    'VULNERABLE_KINDS': 'models',
    'Access': 'models',
    'Building': 'models',
    'External': 'models',
    'Location': 'models',
    'Person': 'models',
    'Place': 'models',
    'Recipient': 'models',
    'Role': 'models',
    'Site': 'models',
    'Unit': 'models',
    'Vendor': 'models',
    'RosterResult': 'roster',
    'read_roster': 'roster',
    'Shift': 'rota',
    'Selector': 'selector',
    'SelectorError': 'selector',
    'Term': 'selector',
    'parse_selector': 'selector',
}


def __getattr__(name: str) -> Any:
    from incident.lazy import load_lazy

    return load_lazy(globals(), _LAZY, name)

__all__ = [
    "VULNERABLE_KINDS",
    "Access",
    "Building",
    "Directory",
    "External",
    "Location",
    "Person",
    "Place",
    "Recipient",
    "Role",
    "RosterImport",
    "RosterResult",
    "Selector",
    "SelectorError",
    "Shift",
    "Site",
    "Term",
    "Unit",
    "Vendor",
    "import_roster",
    "load_directory",
    "parse_selector",
    "read_roster",
]
