"""`incident rollcall`: the roll-call board, the door-knock list (printed, CSV, or sent
to the team through the outbox), and record steps filled from the board."""

from __future__ import annotations

from datetime import timedelta

import click

from incident.cli import Ctx, handled, pass_ctx
from incident.errors import Msg, Refused
from incident.i18n import bilingual, t


def register(main: click.Group) -> None:
    main.add_command(rollcall)


@click.command()
@click.argument("incident_id")
@click.option("--step", help="the roll-call step (default: the latest sent)")
@click.option("--knock", is_flag=True, help="print the door-knock list instead of the board")
@click.option("--team", help="role that knocks (default: the step's team)")
@click.option("--after", "after_min", type=click.IntRange(0, 600),
              help="minutes of silence that count as no answer (default: the step's)")
@click.option("--send", is_flag=True,
              help="send the door-knock list to the team on duty (chat, else SMS) and log it")
@click.option("--fill", "fill_step", metavar="STEP",
              help="record a step with from_roll_call (head count, missing list) from the board")
@click.option("--format", "fmt", type=click.Choice(["text", "csv"]), default="text")
@pass_ctx
@handled
def rollcall(ctx: Ctx, incident_id: str, step: str | None, knock: bool, team: str | None,
             after_min: int | None, send: bool, fill_step: str | None, fmt: str) -> None:
    """Who answered the roll call: safe, needs help, no answer, vulnerable — per floor.

    \b
      incident rollcall 20260105-0001                     # the board
      incident rollcall ID --knock --team security        # door-knock list
      incident rollcall ID --knock --format csv > k.csv   # for Excel / WPS
      incident rollcall ID --knock --send                 # to the team's chat/SMS
      incident rollcall ID --fill missing_list            # missing list from the board
    """
    from incident.engine import rollcall as rc
    from incident.engine import rollcall_text as rt_text

    rt = ctx.runtime
    engine = rt.engine
    lang = ctx.lang
    after = timedelta(minutes=after_min) if after_min is not None else None
    if fill_step is not None:
        st = engine.state(incident_id)
        steps = st.playbook.steps()
        if fill_step not in steps or steps[fill_step].record is None \
                or steps[fill_step].record.from_roll_call is None:
            offer = [s.id for s in steps.values()
                     if s.record is not None and s.record.from_roll_call is not None]
            raise Refused("refused.cli.not_from_roll_call", step=fill_step,
                          offer=Msg("cli.rollcall.these_are", {"steps": ", ".join(offer)})
                          if offer else Msg("cli.rollcall.none_here"))
        value = rc.suggested_value(st, steps[fill_step], engine.clock.now(), rt.directory,
                                   lang)
        if value is None:
            raise Refused("refused.cli.no_roll_call")
        engine.act(incident_id, fill_step, actor=ctx.user, value=value,
                   note=bilingual("cli.rollcall.from_board"))
        shown = value if not isinstance(value, list) else "; ".join(value)
        click.echo(f"{fill_step}: {shown}")
        return
    st = engine.state(incident_id)
    board = rc.board(st, engine.clock.now(), step, no_answer_after=after)
    step_def = st.playbook.steps()[board.step_id]
    who = team or (step_def.roll_call.team if step_def.roll_call else None)
    if send:
        if not who:
            raise Refused("refused.cli.name_team")
        st = engine.knock(incident_id, team=who, actor=ctx.user, step_id=board.step_id,
                          no_answer_after=after)
        sent = st.knocks[-1]
        click.echo(t("roll.knock_sent", lang, to=", ".join(sent["to"]), n=len(sent["units"])))
        return
    if knock:
        items = board.knock_list()
        if fmt == "csv":
            click.echo(rt_text.knock_csv(items, rt.directory, lang), nl=False)
        else:
            click.echo(rt_text.knock_text(items, rt.directory, lang, who or "—"))
        return
    if fmt == "csv":
        raise click.UsageError(t("cli.rollcall.csv_needs_knock", lang))
    click.echo(rt_text.board_text(board, rt.directory, lang))
