"""CLI verbs for notifications: `incident notify …`, `incident dispatch`, `incident deliveries`.

Also extends `incident act`: acting on a notify step queues its messages and then
delivers them before returning (`--no-send` only queues; a running console, an
`incident dispatch --forever` service or a later `incident notify send ID` delivers).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from incident import i18n

if TYPE_CHECKING:
    from incident.store import VerifyReport


#: the language a rendered message is in, as the reader says it (English keeps the code)
LANG_NAMES = {"en": i18n.N_("cli.notify.lang.en"), "zh": i18n.N_("cli.notify.lang.zh")}


def _stats_line(stats: Any, lang: str, store: Any = None) -> str:
    """What a dispatcher pass did, in messages (a retried message counts once)."""
    parts = [i18n.nt("cli.notify.sent", stats.sent, lang)]
    if stats.fell_back:
        parts.append(i18n.nt("cli.notify.fell_back", stats.fell_back, lang))
    if stats.failed:
        parts.append(i18n.nt("cli.notify.failed", stats.failed, lang))
    if store is not None:
        waiting = store.pending_outbox_count()
        if waiting:
            parts.append(i18n.nt("cli.notify.waiting", waiting, lang))
    elif stats.retrying:
        parts.append(i18n.nt("cli.notify.retrying", stats.retrying, lang))
    return i18n.t("cli.notify.sep", lang).join(parts)


def _deliver(ctx: Any, incident_id: str | None, *, wait_retries: bool,
             timeout: float | None) -> Any:
    from incident.notify import build_dispatcher

    with build_dispatcher(ctx.runtime, incident_id=incident_id) as d:
        stats = d.run_until_idle(timeout=timeout, wait_retries=wait_retries)
    if incident_id is not None:  # a dispatcher that died may have left the log behind
        from incident.notify.reconcile import reconcile_progress

        reconcile_progress(ctx.runtime.engine, incident_id)
    return stats


def _step_title(st: Any, step_id: str, lang: str) -> str:
    steps = st.playbook.steps() if st is not None else {}
    if step_id in steps:
        return steps[step_id].title.get(lang)
    if step_id.startswith("escalation:"):
        return i18n.t("page.step", lang, page=step_id.split(":", 1)[1])
    return step_id


def report_delivery(ctx: Any, incident_id: str, step: str | None = None) -> int:
    """Print each notify step's own delivery (per recipient); return how many recipients
    failed for good. Pages are listed after the steps' messages."""
    from incident.notify.tally import step_tallies, summary_line

    rt = ctx.runtime
    try:
        st = rt.engine.state(incident_id)
    except Exception:  # the playbook may be gone; the outbox still answers
        st = None
    found = step_tallies(rt.store, incident_id, step)
    order = sorted(found, key=lambda s: s.startswith("escalation:"))
    failed = 0
    for sid in order:
        t = found[sid]
        color = "red" if t.failed else ("cyan" if t.waiting else "green")
        title = _step_title(st, sid, ctx.lang)
        line = (i18n.t("cli.notify.page_line", ctx.lang, title=title,
                       summary=summary_line(t, ctx.lang)) if sid.startswith("escalation:")
                else i18n.t("cli.notify.step_line", ctx.lang, title=title, id=sid,
                            summary=summary_line(t, ctx.lang)))
        click.secho(line, fg=color)
        failed += t.failed
    waiting = sum(t.waiting for t in found.values())
    lang = ctx.lang
    if waiting:
        click.echo(i18n.t("nd.waiting", lang,
                          recipients=i18n.nt("n.recipient_count", waiting, lang),
                          send=f"`incident notify send {incident_id}`",
                          service="`incident service`"))
    if failed:
        where = f" --step {step}" if step else ""
        click.secho(i18n.t("nd.failed", lang,
                           recipients=i18n.nt("n.recipient_count", failed, lang),
                           why=f"`incident deliveries {incident_id}{where}`",
                           retry=f"`incident notify retry {incident_id}{where}`"),
                    fg="red", err=True)
    return failed


def register(main: click.Group) -> None:
    from incident.cli import Ctx, handled, pass_ctx

    # ---- act: deliver what a notify step queued ------------------------------------------
    act = main.commands.get("act")
    if act is not None and not getattr(act, "_notify_extended", False):
        act.params.append(click.Option(
            ["--no-send"], is_flag=True,
            help="notify steps: only queue the messages (deliver with `incident notify send`)"))
        original = act.callback

        @functools.wraps(original)
        def act_callback(**kwargs: Any) -> Any:
            no_send = kwargs.pop("no_send", False)
            result = original(**kwargs)
            ctx = click.get_current_context().find_object(Ctx)
            iid, step = kwargs["incident_id"], kwargs["step"]
            pending = {k: v for k, v in ctx.runtime.store.outbox_counts(iid).items()
                       if k[0] == step and (v.get("queued") or v.get("failed_temporary"))}
            if pending and not no_send:
                handled(lambda: _deliver(ctx, iid, wait_retries=False, timeout=None))()
                failed = report_delivery(ctx, iid, step)
                if failed:
                    click.secho(i18n.t("nd.step_failed", ctx.lang, step=step,
                                       recipients=i18n.nt("n.recipient_count", failed,
                                                          ctx.lang)), fg="red", err=True)
                    sys.exit(1)
            elif pending:
                click.echo(i18n.t("nd.not_sent", ctx.lang, send=f"`incident notify send {iid}`"))
            return result

        act.callback = act_callback
        act._notify_extended = True  # type: ignore[attr-defined]

    # ---- notice: the printable lobby notice (告示) of a notify step --------------------------
    @main.command("notice")
    @click.argument("incident_id")
    @click.argument("step")
    @click.option("--format", "fmt", type=click.Choice(["html"]), default="html",
                  show_default=True, help="html: one A4 page, CSS inline, print from a browser")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
                  default=None, help="write to this file instead of standard output")
    @pass_ctx
    @handled
    def notice_cmd(ctx: Ctx, incident_id: str, step: str, fmt: str,
                   output: str | None) -> None:
        """Print the lobby notice (告示) of a notify STEP: Chinese and English, with the
        estate's sign-off and today's date."""
        from incident.errors import Msg, Refused
        from incident.notify.notice import notice_html

        rt = ctx.runtime
        st = rt.engine.state(incident_id)
        steps = st.playbook.steps()
        if step not in steps or steps[step].notify is None:
            notices = [s.id for s in steps.values() if s.notify is not None]
            raise Refused("refused.cli.not_notify_step", step=step, playbook=st.playbook.id,
                          steps=", ".join(notices) or Msg("cli.notify.none"))
        page = notice_html(st, steps[step], rt.directory, rt.clock.now())
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(page)
            click.echo(i18n.t("cli.wrote", ctx.lang, path=output))
        else:
            click.echo(page, nl=False)

    # ---- notify group ----------------------------------------------------------------------
    @main.group("notify")
    def notify_group() -> None:
        """Notification channels: check, test, preview and send."""

    @notify_group.command("channels")
    @pass_ctx
    @handled
    def channels_cmd(ctx: Ctx) -> None:
        """The configured channels (secrets hidden) and their limits."""
        from incident.notify import runtime_channels

        cs = runtime_channels(ctx.runtime)
        lang = ctx.lang
        click.echo(i18n.t("cli.notify.channels_from", lang, source=cs.source))
        for ch in cs:
            click.echo(f"  {ch.name:<10} {ch.kind:<6} {cs.masked_template(ch.name)}")
            click.echo(f"  {'':<10} " + i18n.t(
                "cli.notify.limits", lang, concurrency=ch.concurrency, rate=f"{ch.rate:g}",
                timeout=f"{ch.timeout:g}", retries=ch.retries, backoff=f"{ch.backoff:g}",
                subject=i18n.t("cli.notify.sends_subject", lang) if ch.subject else ""))
        for issue in cs.warnings:
            click.secho(issue.format(lang), fg="yellow")

    @notify_group.command("test")
    @click.argument("channel")
    @click.argument("address")
    @click.option("--lang", type=click.Choice(["en", "zh"]), default=None)
    @click.option("--drill", is_flag=True, help="send to the drill sandbox instead")
    @pass_ctx
    @handled
    def test_cmd(ctx: Ctx, channel: str, address: str, lang: str | None, drill: bool) -> None:
        """Send one test message to ADDRESS over CHANNEL and print the outcome."""
        from incident.notify import runtime_channels, send_test, sink

        cs = runtime_channels(ctx.runtime)
        url, outcome = send_test(cs, channel, address, drill=drill, lang=lang or ctx.lang)
        out = ctx.lang
        click.echo(i18n.t("cli.notify.via", out, url=url))
        if outcome.status == "sent":
            click.secho(i18n.t("cli.notify.sent_in", out, ms=f"{outcome.elapsed_ms:.0f}"),
                        fg="green")
            if url.startswith("sink://"):
                click.echo(i18n.t("cli.notify.sink", out, path=sink.sink_path()))
            return
        click.secho(i18n.t("cli.notify.test_failed", out,
                           status=i18n.outbox_state(outcome.status, out)
                           if outcome.status in i18n.OUTBOX_STATES
                           else outcome.status.replace("_", " "),
                           ms=f"{outcome.elapsed_ms:.0f}", error=outcome.error),
                    fg="red", err=True)
        sys.exit(1)

    @notify_group.command("preview")
    @click.argument("incident_id")
    @click.argument("step")
    @click.option("--list", "show", is_flag=True, help="list recipients with no channel")
    @pass_ctx
    @handled
    def preview_cmd(ctx: Ctx, incident_id: str, step: str, show: bool) -> None:
        """What a notify step would send, to how many, over which channels."""
        from incident.notify import preview

        rt = ctx.runtime
        st = rt.engine.state(incident_id)
        p = preview(rt, st, step)
        out = ctx.lang
        click.echo(i18n.nt("cli.notify.recipients", p.recipients, out)
                   + (i18n.t("cli.notify.drill", out) if p.drill else ""))
        click.echo(i18n.t("cli.notify.by_channel", out, channels=i18n.join_list(
            [f"{i18n.channel_name(k, out)} {v}" for k, v in sorted(p.per_channel.items())],
            out) or i18n.t("cli.notify.none", out)))
        if p.unreachable:
            click.secho(i18n.t("cli.notify.no_channel", out, n=len(p.unreachable)),
                        fg="yellow")
            if show:
                for r in p.unreachable:
                    click.echo(f"    {r.person_id} {r.name}")
        for lang, r in p.rendered.items():
            click.echo(i18n.t("cli.notify.rendered", out,
                              code=i18n.t(LANG_NAMES[lang], out) if lang in LANG_NAMES else lang,
                              recipients=i18n.nt("cli.notify.recipients", r.recipients, out),
                              segments=i18n.nt("cli.notify.segments", r.segments, out),
                              encoding=r.encoding))
            click.echo(i18n.t("cli.notify.subject", out, subject=r.subject))
            click.echo(i18n.t("cli.notify.body", out, body=r.body))
        for w in p.warnings:
            click.secho(i18n.t("cli.notify.warning", out, text=w.text(out)), fg="yellow")

    @notify_group.command("send")
    @click.argument("incident_id")
    @click.option("--no-wait", is_flag=True, help="send what is due now; leave retries")
    @click.option("--timeout", type=float, default=600.0, show_default=True,
                  help="give up waiting after this many seconds")
    @pass_ctx
    @handled
    def send_cmd(ctx: Ctx, incident_id: str, no_wait: bool, timeout: float) -> None:
        """Deliver an incident's queued messages (waits out retries unless --no-wait)."""
        ctx.runtime.store.incident(incident_id)
        stats = _deliver(ctx, incident_id, wait_retries=not no_wait, timeout=timeout)
        click.echo(i18n.t("cli.notify.this_run", ctx.lang, stats=_stats_line(stats, ctx.lang)))
        if report_delivery(ctx, incident_id):
            sys.exit(1)

    @notify_group.command("retry")
    @click.argument("incident_id")
    @click.option("--step", help="only this notify step")
    @click.option("--channel", help="only messages that failed on this channel (sent on it "
                  "again, then its fall-backs)")
    @click.option("--no-send", is_flag=True, help="only queue them (a service or "
                  "`incident notify send` delivers)")
    @pass_ctx
    @handled
    def retry_cmd(ctx: Ctx, incident_id: str, step: str | None, channel: str | None,
                  no_send: bool) -> None:
        """Send again the messages that failed for good (a new attempt chain each; the
        failed ones stay in the history), then deliver them."""
        from incident.notify import runtime_channels
        from incident.notify.retry import retry_failed

        rt = ctx.runtime
        rt.store.incident(incident_id)
        try:
            chans = runtime_channels(rt)
        except Exception:  # channels.yaml unreadable: the old rows' addresses still serve
            chans = None
        try:
            directory = rt.directory
        except Exception:
            directory = None
        res = retry_failed(rt.engine, incident_id, actor=ctx.user, step=step, channel=channel,
                           channels=chans, directory=directory)
        for sid, n in res.skipped.items():
            click.secho(i18n.t("nd.no_address", ctx.lang, step=sid,
                               recipients=i18n.nt("n.recipient_count", n, ctx.lang)),
                        fg="yellow")
        if not res.messages:
            where = (i18n.t("nd.in_step", ctx.lang, step=step) if step else "") + (
                i18n.t("nd.on_channel", ctx.lang, channel=i18n.channel_name(channel, ctx.lang))
                if channel else "")
            click.echo(i18n.t("nd.nothing_failed", ctx.lang, where=where))
            if res.skipped:
                sys.exit(1)
            return
        for sid, n in res.per_step.items():
            click.echo(i18n.t("nd.queued_again", ctx.lang, step=sid,
                              messages=i18n.nt("n.messages", n, ctx.lang)))
        if no_send:
            click.echo(i18n.t("nd.not_sent", ctx.lang,
                              send=f"`incident notify send {incident_id}`"))
            return
        _deliver(ctx, incident_id, wait_retries=False, timeout=None)
        if report_delivery(ctx, incident_id, step):
            sys.exit(1)

    # ---- dispatch ----------------------------------------------------------------------------
    @main.command("dispatch")
    @click.option("--forever", is_flag=True, help="keep running (a service); Ctrl-C stops")
    @click.option("--timeout", type=float, default=None, help="stop after this many seconds")
    @pass_ctx
    @handled
    def dispatch_cmd(ctx: Ctx, forever: bool, timeout: float | None) -> None:
        """Deliver every queued message of every incident until the outbox is empty.

        Delivery only: `incident service` delivers too and also fires the timers
        (escalation, overdue steps) — run that as the service."""
        if not forever:
            stats = _deliver(ctx, None, wait_retries=True, timeout=timeout)
            click.echo(_stats_line(stats, ctx.lang, ctx.runtime.store))
            return
        import threading

        from incident.notify import build_dispatcher

        d = build_dispatcher(ctx.runtime).start()
        click.echo(i18n.t("cli.notify.dispatching", ctx.lang))
        try:
            threading.Event().wait(timeout)
        except KeyboardInterrupt:
            pass
        finally:
            d.close()
        click.echo(_stats_line(d.stats, ctx.lang, ctx.runtime.store))

    # ---- deliveries ----------------------------------------------------------------------------
    @main.command("deliveries")
    @click.argument("incident_id")
    @click.option("--step", help="only this notify step")
    @click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]),
                  default="text")
    @pass_ctx
    @handled
    def deliveries_cmd(ctx: Ctx, incident_id: str, step: str | None, fmt: str) -> None:
        """Per recipient and channel: the final state and the reason."""
        rt = ctx.runtime
        rt.store.incident(incident_id)
        rows = rt.store.outbox_rows(incident_id, step)
        try:
            people = rt.directory.people
        except Exception:  # the directory may not load; the log still answers
            people = {}
        zone = None
        try:
            from incident.engine.context import local_zone

            zone = local_zone(rt.directory)
        except Exception:
            pass
        chain = rt.store.verify(incident_id)
        out = []
        for r in rows:
            person = people.get(r.person_id)
            reason = r.last_error or ""
            if r.state == "sent":
                reason = ""
            out.append({
                "step": r.step_id, "person": r.person_id,
                "name": getattr(person, "name", "") if person is not None else "",
                "channel": r.channel, "address": r.address, "lang": r.lang,
                "state": r.state, "attempts": r.attempts,
                "sent_at": r.sent_at.astimezone(zone).isoformat(timespec="seconds")
                if r.sent_at and zone else (r.sent_at.isoformat() if r.sent_at else ""),
                "reason": reason, "drill": r.drill})
        if fmt == "json":
            click.echo(json.dumps(out, ensure_ascii=False, indent=2))
            _chain_exit(incident_id, chain, ctx.lang)  # a broken log's export exits 1 always
            return
        if fmt == "csv":
            buf = io.StringIO()
            from incident.report.render import CSV_CHAIN_HEAD, csv_chain_cells

            # Each row carries the log's verdict and head: the export can be checked later.
            marks = dict(zip(CSV_CHAIN_HEAD, csv_chain_cells(chain), strict=True))
            w = csv.DictWriter(buf, fieldnames=["step", "person", "name", "channel", "address",
                                                "lang", "state", "attempts", "sent_at",
                                                "reason", "drill", *CSV_CHAIN_HEAD])
            w.writeheader()
            from incident.safetext import csv_dict

            w.writerows(csv_dict({**o, **marks}) for o in out)
            click.echo(buf.getvalue(), nl=False)
            _chain_exit(incident_id, chain, ctx.lang)
            return
        if not out:
            click.echo(i18n.t("cli.notify.no_messages", ctx.lang))
            _chain_exit(incident_id, chain, ctx.lang)
            return
        counts: dict[str, int] = {}
        for o in out:
            counts[o["state"]] = counts.get(o["state"], 0) + 1
        lang = ctx.lang
        click.echo(i18n.nt("cli.notify.messages", len(out), lang, states=i18n.join_list(
            [f"{i18n.outbox_state(k, lang)} {v}" for k, v in sorted(counts.items())], lang)))
        from incident.notify.tally import summary_line, tallies

        for sid, tl in tallies(rows).items():
            click.echo(f"  {_step_title(None, sid, lang)}: {summary_line(tl, lang)}")
        # a failed row followed by a later one for the same person (a retry) is history
        later = {(r.step_id, r.person_id): r.id for r in rows}

        def state_word(state: str) -> str:  # English rows keep the state id scripts grep for
            return state if i18n.data_lang(lang) == "en" else i18n.outbox_state(state, lang)

        for r, o in zip(rows, out, strict=True):
            line = (f"  {i18n.pad(_step_title(None, o['step'], lang), 16)} {o['person']:<22} {i18n.pad(o['name'], 10)} "
                    f"{i18n.pad(i18n.channel_name(o['channel'], lang), 6)} "
                    f"{i18n.pad(state_word(o['state']), 17)} "
                    + i18n.t("cli.notify.attempts", lang, n=o["attempts"]))
            superseded = r.state == "failed_permanent" and later[(r.step_id, r.person_id)] != r.id
            if superseded:
                line += i18n.t("cli.notify.sent_again", lang)
            if o["reason"]:
                line += f"  {o['reason'][:120]}"
            from incident.safetext import terminal

            line = terminal(line)  # names and gateway errors are data: one clean line
            color = {"sent": None, "fell_back": "yellow"}.get(o["state"], "red")
            if superseded:
                color = "yellow"
            if o["state"] in ("queued", "sending", "failed_temporary"):
                color = "cyan"
            click.secho(line, fg=color)
        click.echo(i18n.t("cli.notify.chain_ok" if chain.ok else "cli.notify.chain_bad", lang,
                          seq=chain.head_seq, hash=chain.head_hash))
        _chain_exit(incident_id, chain, lang)


def chain_warning(incident_id: str, chain: VerifyReport, lang: str) -> str:
    """The warning an export of a broken log ends with."""
    return i18n.t("cli.report.chain_broken", lang, id=incident_id, seq=chain.first_bad_seq,
                  reason=chain.reason)


def _chain_exit(incident_id: str, chain: VerifyReport, lang: str) -> None:
    """Exports of a log that no longer verifies say so and exit 1, like the reports."""
    if chain.ok:
        return
    click.secho(chain_warning(incident_id, chain, lang), fg="red", err=True)
    sys.exit(1)
