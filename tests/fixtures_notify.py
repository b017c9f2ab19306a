"""Fixtures for notification tests: loopback servers, a notify playbook, an estate.

tests/conftest.py registers this module as a plugin for every test module.

Fixtures: ``smtp``, ``smseagle``, ``mattermost`` (loopback servers, see servers.py)
and ``notify_env`` (engine + store + directory + channels pointing at all three).
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import MattermostServer, SmsEagleServer, SmtpServer

from incident.clock import ManualClock
from incident.directory import load_directory
from incident.engine import Engine
from incident.notify import Dispatcher, Planner, load_channels
from incident.playbook import PlaybookLibrary, load_playbook
from incident.store import open_store

DATA = Path(__file__).parent / "data"

PLAYBOOK = """\
id: burst
type: flooding
title: {en: Pipe burst, zh: 爆管}
description: {en: Water pipe burst, zh: 水管爆裂}
default_severity: 2
severities:
  - level: 2
    name: {en: Ordinary, zh: 一般}
    criteria: {en: No injuries, zh: 无伤亡}
inputs:
  restore_by: {label: {en: Restore by, zh: 预计恢复时间}, default: "18:00"}
audiences:
  b3_owners: owners building:B3
tracks:
  - id: comms
    title: {en: Communications, zh: 通知}
    steps:
      - id: tell_owners
        kind: notify
        title: {en: Tell B3 owners, zh: 通知3号楼业主}
        notify:
          audience: [b3_owners, "owners unit:B3-1201"]
          channels: [sms, email, chat]
          message:
            subject: {en: "Water off in {{ building }}", zh: "{{ building }}停水通知"}
            body:
              en: "Dear {{ name }}, a pipe burst in {{ building }}. Water is off until {{ restore_by }}. Hotline {{ hotline }}."
              zh: "尊敬的{{ name }}：{{ building }}水管爆裂，停水至{{ restore_by }}。服务热线{{ hotline }}。"
      - id: tell_all_sms
        kind: notify
        title: {en: SMS every owner, zh: 短信通知全体业主}
        notify:
          audience: owners
          channels: [sms]
          message:
            subject: {en: "Water off", zh: "停水通知"}
            body: {en: "{{ site }}: water off until {{ restore_by }}.", zh: "{{ site }}：停水至{{ restore_by }}。"}
      - id: tell_all_email
        kind: notify
        title: {en: Email every owner, zh: 邮件通知全体业主}
        notify:
          audience: owners
          channels: [email]
          message:
            subject: {en: "Water off", zh: "停水通知"}
            body: {en: "{{ site }}: water off until {{ restore_by }}.", zh: "{{ site }}：停水至{{ restore_by }}。"}
      - id: tell_staff
        kind: notify
        title: {en: Tell security, zh: 通知秩序维护}
        notify:
          audience: role:security
          channels: [chat, sms]
          message:
            subject: {en: "Burst at {{ location }}", zh: "{{ location }}爆管"}
            body: {en: "Go to {{ location }}.", zh: "请前往{{ location }}。"}
"""


def write_channels(folder: Path, *, smtp: SmtpServer | None = None,
                   sms: SmsEagleServer | None = None, chat: MattermostServer | None = None,
                   retries: int = 2, backoff: str = "10s", timeout: str = "2s",
                   concurrency: int = 8, rate: float = 0, extra: str = "") -> Path:
    """A channels.yaml pointing at the loopback servers (tokens via ${VARS})."""
    lines = ["defaults:", f"  concurrency: {concurrency}", f"  rate: {rate}",
             f"  timeout: {timeout}", f"  retries: {retries}", f"  backoff: {backoff}",
             "channels:"]
    if sms is not None:
        lines += ["  sms:", f'    url: "smseagle://${{SMSEAGLE_TOKEN}}@127.0.0.1:{sms.port}/{{phone}}"']
    else:
        lines += ["  sms:", '    url: "sink://sms/{phone}"']
    if smtp is not None:
        lines += ["  email:", f'    url: "mailto://127.0.0.1:{smtp.port}/{{email}}'
                  '?from=noreply%40estate.test&name=Estate&mode=insecure"']
    else:
        lines += ["  email:", '    url: "sink://email/{email}"']
    if chat is not None:
        lines += ["  chat:", f'    url: "mmost://127.0.0.1:{chat.port}/${{MM_HOOK}}?channel={{chat}}"']
    else:
        lines += ["  chat:", '    url: "sink://chat/{chat}"']
    path = folder / "channels.yaml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def make_estate(folder: Path, owners: int = 0) -> Path:
    """The mini test estate; with owners=N, a generated roster of N owners with phone
    and e-mail spread over every unit (for volume tests)."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in (DATA / "directory" / "mini").iterdir():
        shutil.copy(f, folder / f.name)
    if owners:
        units = [f"B1-{f}{u:02d}" for f in range(1, 6) for u in range(1, 5)] + \
                [f"B3-{f}{u:02d}" for f in range(1, 16) for u in range(1, 3)]
        with (folder / "owners.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["unit", "name", "phone", "email", "chat", "lang", "vulnerable", "tags",
                        "notes"])
            for i in range(owners):
                w.writerow([units[i % len(units)], f"业主{i:04d}", f"+86139{i:08d}",
                            f"owner{i:04d}@example.com", "", "zh" if i % 3 else "en", "",
                            "", ""])
    return folder


@dataclass
class NotifyEnv:
    """A real engine + store + directory + channels, with the planner wired in."""

    engine: Engine
    clock: ManualClock
    channels_file: Path
    contacts: Path
    db_url: str

    @property
    def store(self):
        return self.engine.store

    def channels(self, env: dict | None = None):
        return load_channels(self.channels_file, env=env if env is not None else ENV)

    def dispatcher(self, **kw) -> Dispatcher:
        kw.setdefault("directory", self.engine.directory)
        kw.setdefault("engine", self.engine)
        return Dispatcher(self.store, kw.pop("channels", None) or self.channels(), self.clock,
                          **kw)

    def start(self, drill: bool = False, at: str = "B3-1201") -> str:
        return self.engine.start("burst", at, actor="night.officer", drill=drill).id

    def queue(self, step: str = "tell_owners", drill: bool = False) -> str:
        iid = self.start(drill=drill)
        self.engine.act(iid, step, actor="night.officer")
        return iid


ENV = {"SMSEAGLE_TOKEN": "eagle-secret-token", "MM_HOOK": "mmhooktoken1234567890"}


def build_env(tmp: Path, db_url: str, *, owners: int = 0, playbook: str = PLAYBOOK,
              **servers) -> NotifyEnv:
    contacts = make_estate(tmp / "contacts", owners)
    chfile = write_channels(contacts, **servers)
    directory = load_directory(contacts)
    pbfile = tmp / "burst.yaml"
    pbfile.write_text(playbook, encoding="utf-8")
    names = load_channels(chfile, env=ENV).names()
    pb = load_playbook(pbfile, directory, names)
    lib = PlaybookLibrary({pb.id: pb}, {pb.id: pbfile})
    clock = ManualClock()
    planner = Planner(directory, lambda: load_channels(chfile, env=ENV))
    engine = Engine(open_store(db_url), lib, directory, clock, planner=planner)
    return NotifyEnv(engine, clock, chfile, contacts, db_url)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as s:
        yield s


@pytest.fixture
def smseagle() -> Iterator[SmsEagleServer]:
    with SmsEagleServer(token=ENV["SMSEAGLE_TOKEN"]) as s:
        yield s


@pytest.fixture
def mattermost() -> Iterator[MattermostServer]:
    with MattermostServer(token=ENV["MM_HOOK"]) as s:
        yield s


@pytest.fixture
def notify_env(tmp_path, db_url, smtp, smseagle, mattermost) -> Iterator[NotifyEnv]:
    """Engine on the test database, channels pointing at all three loopback servers."""
    env = build_env(tmp_path, db_url, smtp=smtp, sms=smseagle, chat=mattermost)
    yield env
    env.store.close()
