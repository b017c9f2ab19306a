"""`python -m incident.console [global options] console` — used by `incident serve`."""

from incident.cli import main

main(prog_name="incident")
