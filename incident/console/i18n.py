"""Console labels in English and Simplified Chinese.

`t(key, lang)` looks a label up; unknown keys come back as the key itself so a
missing translation shows up on screen instead of crashing. Binding descriptions
are translated by binding id (`BINDING_LABELS`) so the footer follows the language.
"""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    # home
    "app.title": ("Incident console", "应急事件控制台"),
    "home.active": ("Active incidents", "进行中的事件"),
    "home.closed": ("Recently closed", "最近结束"),
    "home.none": ("No active incident. Press n to start one.", "当前没有进行中的事件。按 n 发起。"),
    "home.loading": ("Loading playbooks, directory and database…", "正在加载预案、通讯录和数据库…"),
    "home.ready": ("{playbooks} playbooks · {staff} staff · {units} units · you are {user}",
                   "{playbooks} 个预案 · {staff} 名员工 · {units} 个房号 · 当前用户 {user}"),
    "home.quick": ("Quick start:", "快速发起："),
    "col.id": ("Incident", "事件"),
    "col.type": ("Type", "类型"),
    "col.what": ("What · where", "事件 · 地点"),
    "col.overdue.short": ("Late", "逾期"),
    "col.pages.short": ("Pages", "未确认"),
    "col.location": ("Location", "地点"),
    "col.severity": ("Sev", "级别"),
    "col.mode": ("Mode", "模式"),
    "col.elapsed": ("Elapsed", "已用时"),
    "col.owner": ("Owner", "负责人"),
    "col.overdue": ("Overdue", "逾期"),
    "col.pages": ("Unacked", "未确认"),
    "col.closed": ("Closed", "结束于"),
    "col.duration": ("Duration", "历时"),
    "live": ("LIVE", "实战"),
    "drill": ("DRILL", "演练"),
    # start
    "start.title": ("Start an incident", "发起事件"),
    "start.line": ("What and where — e.g. fire B3-1201 · 火警 3号楼12层 · lift B5 stuck",
                   "什么事、在哪里——如 火警 3号楼12层 · fire B3-1201 · 电梯 B5 困人"),
    "start.line_ph": ("fire B3-1201", "火警 B3-1201"),
    "start.what": ("What happened? e.g. fire, lift, water, 停电", "发生了什么？如 火警、电梯、漏水、停电"),
    "start.where": ("Where? a unit, floor or building: B3-1201, B3 12F, B3",
                    "在哪里？房号、楼层或楼栋：B3-1201、B3 12F、B3"),
    "start.level": ("level", "级别"),
    "start.enter_check": ("Enter: check and start · ↑↓ severity · Tab: the lists",
                          "回车：核对后发起 · ↑↓ 调整级别 · Tab：列表"),
    "start.enter_starts": ("Enter again starts it · ↑↓ severity · Esc back",
                           "再按回车发起 · ↑↓ 调整级别 · Esc 返回"),
    "start.dup_hint": ("{id} is open here (owner {owner}) — Enter offers to join it",
                       "{id} 已在此处进行中（负责人 {owner}）——回车可选择加入"),
    "join.title": ("Already open in this building", "本楼已有同类事件在处理"),
    "join.open": ("{id} {title} at {at}, owner {owner}", "{id} {title}，地点 {at}，负责人 {owner}"),
    "join.also": ("also {id} at {at}, owner {owner}", "另有 {id}，地点 {at}，负责人 {owner}"),
    "join.since": ("Started at {when}. Join it (Enter), or s: start a separate incident — "
                   "both would page the same people.",
                   "开始于 {when}。回车加入；按 s 另行发起——两起事件会重复呼叫同一批人。"),
    "join.join": ("Join {id}", "加入 {id}"),
    "join.new": ("Start a separate one", "另行发起"),
    "start.playbook": ("Playbook (Tab, Enter to pick)", "预案（Tab，回车选择）"),
    "start.severity": ("Severity (↑↓)", "级别（↑↓）"),
    "start.more": ("Reporter, first receiver, drill, inputs", "报告人、首问负责人、演练、参数"),
    "start.reporter": ("Reporter (who raised the alarm)", "报告人（谁报警）"),
    "start.receiver": ("First receiver / owner", "首问负责人"),
    "start.drill": ("Drill (exercise: messages go to the sandbox)", "演练（消息不会发给真实对象）"),
    "start.go": ("Start", "发起"),
    "start.no_match": ("No playbook matches '{q}'", "没有匹配“{q}”的预案"),
    "start.pick_first": ("Pick a playbook first", "请先选择预案"),
    "start.need_location": ("Give the location first", "请先填写地点"),
    "start.required": ("{field} is required to start", "发起前必须填写“{field}”"),
    "start.started": ("Started {id}", "已发起 {id}"),
    # incident
    "inc.tracks": ("Tracks and steps", "任务线与步骤"),
    "inc.timers": ("Timers", "计时"),
    "inc.messages": ("Messages", "通知"),
    "inc.escalation": ("Escalation", "升级"),
    "inc.timeline": ("Timeline", "时间线"),
    "inc.owner": ("Owner", "负责人"),
    "inc.first_receiver": ("First receiver", "首问责任人"),
    "inc.elapsed": ("Elapsed", "已用时"),
    "inc.next": ("Next due", "下一个到期"),
    "inc.due_now": ("Due now", "当前最急"),
    "sev.ask.title": ("Raise to level {level} ({name})?", "升至 {level} 级（{name}）？"),
    "sev.ask.text": ("'{option}' proposes level {level} (now {current}): reporting clocks "
                     "and pages change.",
                     "“{option}”建议升至 {level} 级（当前 {current} 级）：上报时限和呼叫对象随之改变。"),
    "sev.ask.yes": ("Raise to {level}", "升至 {level} 级"),
    "sev.ask.no": ("Keep the level", "保持不变"),
    "inc.nothing_due": ("Nothing is due", "暂无到期步骤"),
    "help.title": ("Keys on this screen", "本页按键"),
    "help.hint": ("Esc or ? closes. Keys can be remapped in console.toml [keymap] by id.",
                  "Esc 或 ? 关闭。可在 console.toml 的 [keymap] 中按编号改键。"),
    "inc.severity": ("Severity", "级别"),
    "inc.resolved": ("RESOLVED", "已结束"),
    "inc.note_ph": ("Note — Enter saves, Esc hides (kept)", "备注——回车保存，Esc 隐藏（内容保留）"),
    "inc.value_ph": ("Value — Enter records", "数值——回车记录"),
    "inc.noted": ("Note saved", "备注已保存"),
    "inc.loading": ("Loading incident…", "正在加载事件…"),
    "step.instructions": ("Instructions", "操作说明"),
    "step.kind.check": ("check", "检查"),
    "step.kind.decision": ("decision", "决策"),
    "step.kind.dispatch": ("dispatch", "派遣"),
    "step.kind.notify": ("notify", "通知"),
    "step.kind.record": ("record", "记录"),
    "step.kind.escalate": ("escalate", "升级"),
    "step.kind.wait": ("wait", "等待"),
    "step.assignee": ("Assignee", "执行角色"),
    "step.due": ("Due", "到期"),
    "step.call": ("Call", "拨打"),
    "step.waiting_for": ("Waiting for", "等待"),
    "step.excluded": ("Does not apply", "不适用"),
    "step.gate": ("Second person must confirm", "需第二人复核"),
    "step.done_by": ("Done by {who} at {when}", "{who} 于 {when} 完成"),
    "step.confirmed_by": ("confirmed by {who}", "{who} 复核"),
    "step.skipped_by": ("Skipped by {who} at {when}: {reason}", "{who} 于 {when} 跳过：{reason}"),
    "step.awaiting": ("Done by {who}; waits for a second person", "{who} 已完成，待第二人复核"),
    "step.started_by": ("Taken on by {who} at {when}", "{who} 于 {when} 接手"),
    "step.dispatched": ("Dispatched to {to}; arrive by {when}", "已派遣 {to}，应于 {when} 前到达"),
    "step.records": ("Records {name} ({type})", "记录 {name}（{type}）"),
    "step.escalates": ("Escalates to {to}", "升级至 {to}"),
    "step.notifies": ("Notifies {audience} by {channels}", "通过 {channels} 通知 {audience}"),
    "step.queued": ("Queued: {n} messages", "已排队 {n} 条消息"),
    "step.messages": ("Messages", "消息"),
    "step.wait": ("Waits {d} then completes by itself", "等待 {d} 后自动完成"),
    "step.options": ("Options (press the number)", "选项（按数字键）"),
    "hint.done": ("Enter done", "回车 完成"),
    "hint.choose": ("1-9 choose", "1-9 选择"),
    "hint.record": ("type the value, Enter", "输入数值后回车"),
    "hint.dispatch": ("Enter dispatch", "回车 派遣"),
    "hint.arrived": ("Enter arrived/done", "回车 已到达/完成"),
    "hint.notify": ("Enter preview & send", "回车 预览并发送"),
    "hint.escalate": ("Enter escalate", "回车 升级"),
    "hint.confirm": ("c confirm (2nd person)", "c 第二人复核"),
    "hint.skip": ("s skip", "s 跳过"),
    "hint.take": ("t take on", "t 接手"),
    # timers
    "tm.target": ("Targets", "目标"),
    "tm.report": ("Report clocks", "上报时限"),
    "tm.other": ("Other timers", "其他计时"),
    "tm.met": ("met {t}", "已达成 {t}"),
    "tm.met_late": ("met late {t}", "超时达成 {t}"),
    "tm.missed": ("MISSED {t}", "未达成 {t}"),
    "tm.na": ("n/a", "不适用"),
    "tm.none": ("No timers.", "无计时。"),
    # messages
    "msg.none": ("No messages queued yet.", "尚无通知。"),
    "msg.progress": ("{sent}/{total} delivered · {failed} failed · {pending} waiting",
                     "已送达 {sent}/{total} · 失败 {failed} · 待发 {pending}"),
    "msg.moved_on": ("{n} moved to their next channel", "{n} 转其他渠道"),
    "msg.step_tally": ("recipients: {delivered}/{total} delivered · {waiting} waiting · "
                       "{failed} failed for good",
                       "收件人：已送达 {delivered}/{total} · 待发 {waiting} · 最终失败 {failed}"),
    "msg.failed": ("{n} recipient(s) not reached on any channel.",
                   "{n} 位收件人所有渠道均未送达。"),
    "msg.retry_hint": ("R: retry failed", "R：重发失败消息"),
    "msg.nothing_failed": ("Nothing failed for good: nothing to send again.",
                           "没有最终失败的消息，无需重发。"),
    "msg.drill_down": ("m: recipients of the highlighted notify step", "m：查看所选通知步骤的收件人"),
    "svc.none": ("No incident service running: escalation only while this console is open",
                 "没有运行事件服务：仅在此控制台打开时才会升级"),
    "msg.no_dispatcher": ("Delivery worker not installed (incident.notify): messages stay queued.",
                          "未安装发送模块（incident.notify）：消息保持排队状态。"),
    "msg.recipients": ("Recipients — {step}", "收件人——{step}"),
    # escalation
    "esc.none": ("Nobody paged yet.", "尚未呼叫任何人。"),
    "esc.not_installed": ("Paging not installed (incident.escalation): escalations are only logged.",
                          "未安装呼叫模块（incident.escalation）：升级只记录在日志中。"),
    "esc.next": ("Next escalation in {t}: {what}", "{t} 后升级：{what}"),
    "esc.acked": ("acked by {who} {when}", "{who} {when} 已确认"),
    "esc.waiting": ("NOT ACKNOWLEDGED", "未确认"),
    "esc.hint": ("a acknowledge · E escalate now", "a 确认呼叫 · E 立即升级"),
    # preview
    "pv.title": ("Send notice — {step}", "发送通知——{step}"),
    "pv.audience": ("Audience", "收件人"),
    "pv.recipients": ("{n} recipients", "{n} 位收件人"),
    "pv.no_channel": ("{n} with no usable channel", "{n} 位没有可用渠道"),
    "pv.segments": ("SMS: {n} part(s)", "短信：{n} 条"),
    "pv.send": ("Send", "发送"),
    "pv.cancel": ("Cancel", "取消"),
    "pv.loading": ("Rendering the message and counting the audience…", "正在生成消息并统计收件人…"),
    "pv.not_configured": ("Notifications are not configured (incident.notify missing): this step "
                          "cannot send. Tell people another way and skip it with the reason.",
                          "未配置通知（缺少 incident.notify）：此步骤无法发送。请用其他方式通知，并填写原因跳过。"),
    "pv.sent": ("{n} messages queued", "已排队 {n} 条消息"),
    # forms
    "form.ok": ("OK", "确定"),
    "form.cancel": ("Cancel", "取消"),
    "form.skip.title": ("Skip '{step}'", "跳过“{step}”"),
    "form.reason": ("Reason (required)", "原因（必填）"),
    "form.confirm.title": ("Second-person confirmation — {step}", "第二人复核——{step}"),
    "form.confirmer": ("Confirming person (staff id)", "复核人（员工编号）"),
    "form.pin": ("Their PIN (not needed when you confirm as yourself at your own login)",
                 "复核人 PIN 码（本人登录复核时无需填写）"),
    "form.pin.missing": ("{who}: type their PIN — a typed name alone does not prove who "
                         "confirms", "{who}：请输入其 PIN 码——仅填写姓名不能证明复核人身份"),
    "form.note": ("Note (optional)", "备注（可选）"),
    "form.handover.title": ("Hand over {id}", "移交 {id}"),
    "form.handover.to": ("New owner (staff id)", "新负责人（员工编号）"),
    "form.resolve.title": ("Resolve {id}", "结束 {id}"),
    "form.summary": ("Closing summary", "结束总结"),
    "form.force": ("Resolve although steps are open (summary says why)",
                   "仍有未完成步骤也结束（总结需说明原因）"),
    "form.escalate.title": ("Escalate now", "立即升级"),
    "form.role": ("Role to page", "呼叫角色"),
    "form.severity.title": ("Change severity", "变更级别"),
    "form.level": ("Severity level", "级别"),
    "form.report.title": ("Report made", "已上报"),
    "form.report": ("Report clock", "上报事项"),
    "form.working": ("Working…", "处理中…"),
    "form.dispatch.title": ("Dispatch — {step}", "派遣——{step}"),
    "form.dispatch.to": ("Send to (role, vendor or staff id)", "派往（角色、单位或员工编号）"),
    "form.reopen.title": ("Reopen {id}", "重开 {id}"),
    # directory
    "dir.title": ("Directory and escalation", "通讯录与升级"),
    "dir.on_duty": ("On duty now", "当前值班"),
    "dir.search": ("Search contacts: name, id, role, phone…", "搜索联系人：姓名、编号、角色、电话…"),
    "dir.chain": ("Escalation chain for severity {level}", "级别 {level} 的升级链"),
    "dir.nobody": ("nobody rostered", "无人值班"),
    # errors
    "err.refused": ("Refused", "操作被拒绝"),
    "err.read_only": ("This console follows along read-only — act from a duty console",
                      "此控制台仅供跟踪查看（只读）——请在值班控制台操作"),
    "app.read_only": ("read-only", "只读"),
    "err.failed": ("Something went wrong", "出现错误"),
    "err.core": ("The console cannot load its data", "控制台无法加载数据"),
    "err.close": ("Close", "关闭"),
    "ok.done": ("{step}: done", "{step}：完成"),
    "ok.skipped": ("{step}: skipped", "{step}：已跳过"),
    "ok.started": ("{step}: started", "{step}：已开始"),
    "ok.confirmed": ("{step}: confirmed", "{step}：已复核"),
    "ok.handover": ("Handed over to {to}", "已移交给 {to}"),
    "ok.resolved": ("{id} resolved", "{id} 已结束"),
    "ok.acked": ("Page acknowledged", "呼叫已确认"),
    "ok.retried": ("Failed messages queued again", "失败消息已重新排队"),
    "ok.escalated": ("Escalated to {to}", "已升级至 {to}"),
    "ok.severity": ("Severity now {level}", "级别已改为 {level}"),
    "ok.reported": ("Report recorded", "上报已记录"),
    "ok.reopened": ("{id} reopened", "{id} 已重开"),
    "lang.now": ("Language: English", "语言：中文"),
    "theme.contrast": ("High-contrast theme", "高对比度主题"),
    "theme.normal": ("Normal theme", "普通主题"),
    # palette
    "cmd.start": ("Start incident", "发起事件"),
    "cmd.start.help": ("Pick a playbook and a location", "选择预案和地点"),
    "cmd.switch": ("Switch to {id}", "切换到 {id}"),
    "cmd.home": ("Home: all incidents", "首页：全部事件"),
    "cmd.lang": ("Language: English / 中文", "语言：English / 中文"),
    "cmd.contrast": ("Theme: high contrast on/off", "主题：高对比度 开/关"),
    "cmd.directory": ("Directory, on duty and escalation chain", "通讯录、值班与升级链"),
}

# Roll call (issue 19): labels added here until the catalogue lands.
LABELS.update({
    "rc.title": ("Roll call — who is safe, whom to knock on", "点名看板——谁已安全，需敲门的住户"),
    "rc.keys": ("k: send the door-knock list to the team · l: board / knock list · Esc: close",
                "k：将敲门名单发送给小组 · l：看板/敲门名单切换 · Esc：关闭"),
    "rc.no_team": ("This roll call names no door-knock team — print the list: "
                   "incident rollcall ID --knock --team ROLE",
                   "本次点名未指定敲门小组——可打印名单：incident rollcall 事件号 --knock --team 角色"),
    "rc.sent": ("Door-knock list ({n} units) sent to {team} ({to} people)",
                "敲门名单（{n} 户）已发送给 {team}（{to} 人）"),
    "rc.knock_msgs": ("Door-knock list {n}", "敲门名单 {n}"),
    "rc.prefill": ("offered from the roll-call board — check before Enter",
                   "已按点名看板预填——请核对后回车"),
})

# Footer labels by binding id.
BINDING_LABELS: dict[str, tuple[str, str]] = {
    "home.new": ("New", "发起"),
    "home.open": ("Open", "打开"),
    "home.directory": ("Directory", "通讯录"),
    "app.language": ("中文", "EN"),
    "app.contrast": ("Contrast", "对比度"),
    "app.quit": ("Quit", "退出"),
    "start.back": ("Back", "返回"),
    "join.new": ("Separate", "另行发起"),
    "start.go": ("Start", "发起"),
    "incident.back": ("Home", "首页"),
    "incident.urgent": ("Next due", "最急"),
    "incident.new": ("New incident", "发起事件"),
    "app.help": ("Help", "帮助"),
    "incident.done": ("Done", "完成"),
    "incident.skip": ("Skip", "跳过"),
    "incident.take": ("Take on", "接手"),
    "incident.confirm": ("Confirm", "复核"),
    "incident.note": ("Note", "备注"),
    "incident.handover": ("Hand over", "移交"),
    "incident.ack": ("Ack page", "确认呼叫"),
    "incident.retry": ("Retry failed", "重发失败"),
    "incident.escalate": ("Escalate", "升级"),
    "incident.resolve": ("Resolve", "结束"),
    "incident.severity": ("Severity", "级别"),
    "incident.report": ("Reported", "已上报"),
    "incident.recipients": ("Recipients", "收件人"),
    "incident.panel": ("Panel", "面板"),
    "incident.reopen": ("Reopen", "重开"),
    "modal.close": ("Close", "关闭"),
    "preview.send": ("Send", "发送"),
    "incident.rollcall": ("Roll call", "点名"),
    "rollcall.send": ("Send knock list", "发送敲门名单"),
    "rollcall.list": ("Knock list", "敲门名单"),
    "form.submit": ("OK", "确定"),
    "directory.back": ("Back", "返回"),
}


def t(key: str, lang: str = "en", **fields: object) -> str:
    en, zh = LABELS.get(key, (key, key))
    text = zh if lang == "zh" else en
    if fields:
        try:
            return text.format(**fields)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def binding_label(binding_id: str | None, lang: str) -> str | None:
    if binding_id is None or binding_id not in BINDING_LABELS:
        return None
    en, zh = BINDING_LABELS[binding_id]
    return zh if lang == "zh" else en


def localize_bindings(node: object, lang: str) -> None:
    """Rewrite the footer descriptions of a node's bindings in `lang` (by binding id)."""
    from dataclasses import replace

    bindings = getattr(node, "_bindings", None)
    table = getattr(bindings, "key_to_bindings", None)
    if not isinstance(table, dict):
        return
    for key, items in list(table.items()):
        new = []
        for b in items:
            label = binding_label(getattr(b, "id", None), lang)
            new.append(replace(b, description=label) if label else b)
        table[key] = new
