"""`incident drill`: run scenarios, score them, evaluate them, report on them.

    incident drill SCENARIO [--speed N]        the drill in the console (scaled clock)
    incident drill SCENARIO --auto             headless rehearsal: prints the id and scores
    incident drill list | validate [FILES]     the scenarios in playbooks/drills/
    incident drill score ID                    objectives met or missed, suggested ratings
    incident drill rate ID OBJECTIVE P|S|M|U --comment …
    incident drill strength ID TEXT / improve ID TEXT
    incident drill plan ID --issue … --action … --owner … --due YYYY-MM-DD
    incident drill evaluate ID FILE.yaml
    incident drill report ID [--format md|html|json] [-o FILE] [--lang en|zh]

Thin argument handling over incident.drill; registered by cli._register_faces().
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from incident.i18n import N_, join_list, nt, pad, t

if TYPE_CHECKING:
    from incident.cli import Ctx


class DrillGroup(click.Group):
    """`incident drill SCENARIO …` is short for `incident drill run SCENARIO …`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from incident.files import write_output

    write_output(output, text)  # no mkdir; a bad path is one clear line (handled)
    from incident.cli import _output_lang

    click.echo(t("cli.wrote", _output_lang(), path=output), err=True)


def _load(rt: Any, name: str, lang: str = "en") -> Any:
    from incident.drill import find_scenario, load_scenario

    path = find_scenario(name, rt.settings.playbooks_dir)
    loaded = load_scenario(path, rt.playbooks, rt.directory, rt.channel_names)
    for w in loaded.warnings:
        click.secho(w.format(lang), fg="yellow", err=True)
    return loaded


def _dispatcher(rt: Any, incident_id: str | None = None) -> Any:
    """The drill's dispatcher; scoped to the drill incident once it is known, so a drill
    clock never delivers (or retries) a live incident's messages."""
    from incident.notify import build_dispatcher

    return build_dispatcher(rt, incident_id=incident_id)


def _score_lines(sd: Any, lang: str) -> list[str]:
    from incident.clock import format_duration
    from incident.drill.aar import _result

    lines = []
    for s in sd.scores:
        took = format_duration(s.elapsed) if s.elapsed is not None else "—"
        res = _result(s, lang)
        mark = "" if s.rating == s.suggested else t("cli.drill.suggested", lang, rating=s.suggested)
        lines.append(f"  {s.rating}{mark}  {s.id:<22} {took:>7} / {format_duration(s.within):<7} "
                     f"{res}  — {s.title.get(lang, s.id)}")
    return lines


def console_app(rt: Any, incident_id: str, speed: float = 1.0, **options: Any) -> Any:
    """The console opened straight on a drill incident. Its dispatcher is left off: the
    drill command runs the dispatcher, whose sandbox honours injected faults. At high
    speed the heartbeat beats faster, so timers and injects fire within ~20 s of drill
    time (the engine calls a timer more than 30 s late "late")."""
    from incident.console import create_app

    options.setdefault("heartbeat", max(0.1, min(1.0, 20.0 / max(speed, 1.0))))
    options.setdefault("dispatcher", False)
    options.setdefault("restore", True)
    app = create_app(rt, **options)
    app.ui.update(incident=incident_id, step=None)
    return app


#: improvement plan item states, as the reader says them
PLAN_STATUS = {"open": N_("cli.drill.status.open"),
               "in_progress": N_("cli.drill.status.in_progress"),
               "done": N_("cli.drill.status.done")}


#: the sections an evaluation file records (drill.evaluate.apply_file), counted
EVALUATED: dict[str, Any] = {
    "ratings": lambda n, lang: nt("cli.drill.n_ratings", n, lang),
    "strengths": lambda n, lang: nt("cli.drill.n_strengths", n, lang),
    "improvements": lambda n, lang: nt("cli.drill.n_improvements", n, lang),
    "plan": lambda n, lang: nt("cli.drill.n_plan", n, lang),
    "counts": lambda n, lang: nt("cli.drill.n_counts", n, lang)}


def register(main: click.Group) -> None:
    from incident.cli import handled, pass_ctx

    @main.group(cls=DrillGroup)
    def drill() -> None:
        """Drills: rehearse a playbook from a scenario, score it, learn from it.

        `incident drill SCENARIO` runs a scenario of playbooks/drills/ (by id, file
        name or path) as a drill incident: notifications go to the sandbox only.
        """

    @drill.command("run")
    @click.argument("scenario")
    @click.option("--speed", type=float, help="clock speed (1 = real time; 10 for a tabletop)")
    @click.option("--auto", "auto", is_flag=True,
                  help="play the scripted responses headless; print the id and the scores")
    @click.option("--no-console", is_flag=True, help="start the drill and print its id only")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                  help="output of --auto")
    @pass_ctx
    @handled
    def run(ctx: Ctx, scenario: str, speed: float | None, auto: bool, no_console: bool,
            fmt: str) -> None:
        """Run a drill scenario (the console on a scaled clock, or --auto headless)."""
        from incident.clock import ManualClock, ScaledClock, SystemClock
        from incident.drill import install, run_auto, scored, start_drill
        from incident.runtime import Runtime

        settings = ctx.runtime.settings
        if speed is not None and speed <= 0:
            raise click.BadParameter(t("cli.drill.speed_positive", ctx.lang),
                                     param_hint="--speed")
        configured = ctx.runtime.clock  # INCIDENT_CLOCK (fixed:…) or the system clock
        if auto:
            clock = ManualClock(configured.now())
            rt = Runtime(settings, clock=clock)
            try:
                loaded = _load(rt, scenario, ctx.lang)
                install(rt.engine)
                dispatcher = _dispatcher(rt)
                try:
                    result = run_auto(rt.engine, loaded, clock, dispatcher=dispatcher,
                                      actor=None)
                finally:
                    dispatcher.close()
                sd = scored(rt.store, rt.playbooks, result.incident_id)
                if fmt == "json":
                    from incident.drill.aar import score_dict

                    click.echo(json.dumps({
                        "drill": result.incident_id, "scenario": loaded.scenario.id,
                        "objectives": [score_dict(s) for s in sd.scores],
                        "messages": result.messages, "open_steps": result.open_steps},
                        ensure_ascii=False, indent=2))
                    return
                click.echo(result.incident_id)
                click.echo(nt("cli.drill.objectives", len(sd.scores), ctx.lang,
                              title=loaded.scenario.title.get(ctx.lang)))
                for line in _score_lines(sd, ctx.lang):
                    click.echo(line)
                sent = sum(result.messages.values())
                if sent:
                    from incident.i18n import outbox_state

                    click.echo(t("cli.drill.sandbox", ctx.lang, counts=join_list(
                        [f"{outbox_state(k, ctx.lang)} {v}"
                         for k, v in sorted(result.messages.items())], ctx.lang)))
            finally:
                rt.close()
            return
        # the person at the keyboard plays the drill (refused when nobody known is there);
        # the scenario's lead starts it unless someone is named
        player = ctx.user
        named = bool(settings.user or ctx.flags.get("as_person"))
        rt = Runtime(settings, clock=SystemClock())
        loaded = _load(rt, scenario, ctx.lang)
        pace = speed if speed is not None else loaded.scenario.speed
        # from the configured clock's now, before the engine is built: it keeps this clock
        rt.clock = ScaledClock(pace, start=configured.now())
        install(rt.engine)
        st = start_drill(rt.engine, loaded, speed=pace, actor=player if named else None)
        click.echo(st.id)
        if no_console:
            click.echo(t("cli.drill.started", ctx.lang, speed=f"{pace:g}",
                         command="`incident drill SCENARIO`"), err=True)
            rt.close()
            return
        _open_console(rt, st.id, pace, player, ctx.lang)

    def _open_console(rt: Any, incident_id: str, pace: float, player: Any,
                      lang: str) -> None:
        dispatcher = _dispatcher(rt, incident_id)
        app = console_app(rt, incident_id, pace, user=player)
        dispatcher.start()
        try:
            app.run()
        finally:
            if dispatcher is not None:
                dispatcher.close()
            rt.close()
        click.echo(t("cli.drill.score_it", lang, id=incident_id,
                     command=f"`incident drill score {incident_id}`"))

    @drill.command("list")
    @pass_ctx
    @handled
    def list_(ctx: Ctx) -> None:
        """The drill scenarios in playbooks/drills/."""
        from incident.drill import drills_dir, load_scenario, scenario_files
        from incident.errors import ValidationFailed

        rt = ctx.runtime
        folder = drills_dir(rt.settings.playbooks_dir)
        files = scenario_files(folder) if folder.is_dir() else []
        lang = ctx.lang
        if not files:
            click.echo(t("cli.drill.no_scenarios", lang, path=folder))
        for f in files:
            try:
                sc = load_scenario(f, rt.playbooks, rt.directory, rt.channel_names).scenario
            except ValidationFailed as exc:
                click.secho(t("cli.drill.invalid", lang, file=f"{f.name:<28}",
                              errors=nt("cli.main.n_errors", len(exc.errors), lang),
                              command=f"`incident drill validate {f}`"), fg="red")
                continue
            click.echo(t("cli.drill.list_row", lang, id=f"{sc.id:<24}",
                         title=pad(sc.title.get(lang), 34), playbook=f"{sc.playbook:<20}",
                         location=f"{sc.location:<9}",
                         injects=nt("cli.drill.injects", len(sc.injects), lang),
                         objectives=nt("cli.drill.n_objectives", len(sc.objectives), lang)))

    @drill.command("validate")
    @click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
    @pass_ctx
    def validate(ctx: Ctx, paths: tuple[Path, ...]) -> None:
        """Check drill scenarios (default: all of playbooks/drills/). Exit 1 on errors."""
        from incident.drill import drills_dir, load_scenario, scenario_files
        from incident.errors import Issue, ValidationFailed

        rt = ctx.runtime
        lang = ctx.lang
        issues: list[Issue] = []
        try:
            lib, directory, channels = rt.playbooks, rt.directory, rt.channel_names
        except ValidationFailed as exc:
            for i in exc.issues:
                click.secho(i.format(lang), fg="red")
            click.secho(t("cli.drill.fix_first", lang), fg="red")
            sys.exit(1)
        files: list[Path] = []
        for p in paths or (drills_dir(rt.settings.playbooks_dir),):
            files += scenario_files(p) if p.is_dir() else [p]
        for f in files:
            try:
                issues += load_scenario(f, lib, directory, channels).warnings
                click.echo(t("cli.main.checked", lang, what=f))
            except ValidationFailed as exc:
                issues += exc.issues
        for i in issues:
            click.secho(i.format(lang), fg="red" if i.severity == "error" else "yellow")
        errors = [i for i in issues if i.severity == "error"]
        if errors:
            click.secho(nt("cli.main.n_errors", len(errors), lang), fg="red")
            sys.exit(1)
        click.secho(t("cli.main.valid", lang, warnings=nt("cli.main.n_warnings", len(issues),
                                                           lang)), fg="green")

    @drill.command("score")
    @click.argument("incident_id")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    @pass_ctx
    @handled
    def score_(ctx: Ctx, incident_id: str, fmt: str) -> None:
        """Each objective: met or missed and by how much, rating (suggested / given)."""
        from incident.drill import scored
        from incident.drill.aar import score_dict

        rt = ctx.runtime
        sd = scored(rt.store, rt.playbooks, incident_id)
        if fmt == "json":
            click.echo(json.dumps([score_dict(s) for s in sd.scores], ensure_ascii=False,
                                  indent=2))
            return
        click.echo(f"{incident_id}  {sd.scenario.title.get(ctx.lang)}")
        for line in _score_lines(sd, ctx.lang):
            click.echo(line)

    @drill.command("rate")
    @click.argument("incident_id")
    @click.argument("objective")
    @click.argument("rating", type=click.Choice(["P", "S", "M", "U", "p", "s", "m", "u"]))
    @click.option("--comment", default="", help="why (shown in the after-action report)")
    @pass_ctx
    @handled
    def rate_(ctx: Ctx, incident_id: str, objective: str, rating: str, comment: str) -> None:
        """Override the suggested rating of an objective (an event on the timeline)."""
        from incident.drill import rate

        rate(ctx.runtime.engine, incident_id, objective, rating, actor=ctx.user,
             comment=comment)
        click.echo(f"{objective}: {rating.upper()}")

    def _observation_options(f: Any) -> Any:
        for opt in (click.option("--recommendation", default="", help="what to do about it"),
                    click.option("--analysis", default="", help="why it happened, its effect"),
                    click.option("--capability", default="",
                                 help="the HSEEP core capability it belongs to")):
            f = opt(f)
        return f

    @drill.command("strength")
    @click.argument("incident_id")
    @click.argument("text", nargs=-1, required=True)
    @_observation_options
    @pass_ctx
    @handled
    def strength(ctx: Ctx, incident_id: str, text: tuple[str, ...], capability: str = "",
                 analysis: str = "", recommendation: str = "") -> None:
        """Record a strength observed in the drill."""
        from incident.drill import add_note

        add_note(ctx.runtime.engine, incident_id, "strength", " ".join(text), actor=ctx.user,
                 capability=capability, analysis=analysis, recommendation=recommendation)
        click.echo(t("cli.drill.strength", ctx.lang))

    @drill.command("improve")
    @click.argument("incident_id")
    @click.argument("text", nargs=-1, required=True)
    @_observation_options
    @pass_ctx
    @handled
    def improve(ctx: Ctx, incident_id: str, text: tuple[str, ...], capability: str = "",
                analysis: str = "", recommendation: str = "") -> None:
        """Record an area for improvement (with analysis and recommendation)."""
        from incident.drill import add_note

        add_note(ctx.runtime.engine, incident_id, "improvement", " ".join(text),
                 actor=ctx.user, capability=capability, analysis=analysis,
                 recommendation=recommendation)
        click.echo(t("cli.drill.improvement", ctx.lang))

    @drill.command("plan")
    @click.argument("incident_id")
    @click.option("--issue", required=True)
    @click.option("--action", "action_", required=True, help="the corrective action")
    @click.option("--owner", required=True, help="staff id or role responsible")
    @click.option("--due", required=True, help="YYYY-MM-DD")
    @click.option("--capability", default="",
                  help="the HSEEP core capability, e.g. 'Operational Communications'")
    @click.option("--start", help="YYYY-MM-DD (default: today)")
    @pass_ctx
    @handled
    def plan(ctx: Ctx, incident_id: str, issue: str, action_: str, owner: str,
             due: str, capability: str = "", start: str | None = None) -> None:
        """Add an improvement plan item (capability, issue, corrective action, owner,
        start and due dates)."""
        from incident.drill import add_plan

        add_plan(ctx.runtime.engine, incident_id, issue=issue, action=action_, owner=owner,
                 due=due, actor=ctx.user, capability=capability, start=start)
        click.echo(t("cli.drill.plan", ctx.lang))

    @drill.command("plan-status")
    @click.argument("incident_id")
    @click.argument("item", metavar="ITEM")
    @click.argument("status", type=click.Choice(["open", "in_progress", "done"]))
    @pass_ctx
    @handled
    def plan_status(ctx: Ctx, incident_id: str, item: str, status: str) -> None:
        """Move an improvement plan item (IP1 …) to open, in_progress or done; items not
        done are carried over into the next run's after-action report."""
        from incident.drill import set_plan_status

        set_plan_status(ctx.runtime.engine, incident_id, item, status, actor=ctx.user)
        click.echo(t("cli.drill.plan_status", ctx.lang, id=incident_id, item=item,
                     status=t(PLAN_STATUS[status], ctx.lang)))

    @drill.command("counts")
    @click.argument("incident_id")
    @click.argument("pairs", nargs=-1, required=True, metavar="NAME=N…")
    @pass_ctx
    @handled
    def counts(ctx: Ctx, incident_id: str, pairs: tuple[str, ...]) -> None:
        """Record head counts, e.g. occupants=186 visitors=7 missing=0."""
        from incident.drill import add_counts

        values: dict[str, int] = {}
        for p in pairs:
            name, _, num = p.partition("=")
            if not name or not num.strip().isdigit():
                raise click.UsageError(t("cli.drill.counts_usage", ctx.lang, got=p))
            values[name.strip()] = int(num)
        add_counts(ctx.runtime.engine, incident_id, values, actor=ctx.user)
        click.echo(t("cli.drill.counts", ctx.lang))

    @drill.command("evaluate")
    @click.argument("incident_id")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @pass_ctx
    @handled
    def evaluate(ctx: Ctx, incident_id: str, file: Path) -> None:
        """Record an evaluation file: ratings, strengths, improvements, plan, counts."""
        from incident.drill import apply_file

        n = apply_file(ctx.runtime.engine, incident_id, file, actor=ctx.user)
        lang = ctx.lang
        click.echo(t("cli.drill.recorded", lang, what=join_list(
            [EVALUATED[k](v, lang) if k in EVALUATED else f"{v} {k}"
             for k, v in n.items() if v], lang)))

    @drill.command("report")
    @click.argument("incident_id")
    @click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md",
                  show_default=True)
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--lang", "report_lang", type=click.Choice(["en", "zh"]))
    @pass_ctx
    @handled
    def report(ctx: Ctx, incident_id: str, fmt: str, output: Path | None,
               report_lang: str | None) -> None:
        """The after-action report, with the trend against earlier runs of the scenario."""
        from incident.drill import build_aar, render_aar

        rt = ctx.runtime
        lang = report_lang or ctx.lang
        a = build_aar(rt.store, rt.playbooks, rt.directory, incident_id,
                      now=rt.clock.now(), lang=lang)
        chain = rt.store.verify(incident_id)
        _emit(_with_integrity(render_aar(a, fmt), fmt, chain, lang, rt), output)
        if not chain.ok:
            from incident.cli_notify import chain_warning

            click.secho(chain_warning(incident_id, chain, ctx.lang), fg="red", err=True)
            sys.exit(1)


def _with_integrity(text: str, fmt: str, chain: Any, lang: str, rt: Any) -> str:
    """The after-action report ends, like every report, with the chain's verdict and head."""
    from html import escape

    from incident.engine.context import local_zone
    from incident.report.labels import t
    from incident.report.render import integrity_dict, verdict_text

    zone = local_zone(rt.directory)
    line = verdict_text(chain, lang,
                        lambda ts: ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"))
    if fmt == "json":
        try:
            doc = json.loads(text)
        except ValueError:
            return text
        if isinstance(doc, dict):
            doc["integrity"] = integrity_dict(chain)
            return json.dumps(doc, ensure_ascii=False, indent=2)
        return text
    if fmt == "html":
        cls = "ok" if chain.ok else "banner"
        block = f'<footer><div class="{cls}"><b>{escape(t("integrity", lang))}:</b> ' \
                f"{escape(line)}</div></footer>"
        at = text.rfind("</body>")
        return text[:at] + block + text[at:] if at >= 0 else text + block
    return text.rstrip("\n") + f"\n\n---\n\n**{t('integrity', lang)}:** {line}\n"
