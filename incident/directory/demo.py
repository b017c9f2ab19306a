"""Deterministic generator of demo owner rosters (the shipped contacts/owners.csv, benches).

    python -m incident.directory.demo contacts        # regenerate contacts/owners.csv

Same seed, same units → byte-identical CSV. The roster mixes the formats a real
export has: phones with and without +86 and spaces, owners without e-mail or
without a phone, about 10% English-speaking owners, about 5% vulnerable.
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Iterable
from pathlib import Path

from incident.directory.models import Unit

SEED = 20260105
HEADER = ("unit", "name", "phone", "email", "chat", "lang", "vulnerable", "tags", "notes")



def _words(text: str) -> list[str]:
    return text.split()


_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
             "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵"
             "万钱严武戴孔汤")
_PINYIN = {
    "王": "Wang", "李": "Li", "张": "Zhang", "刘": "Liu", "陈": "Chen", "杨": "Yang",
    "黄": "Huang", "赵": "Zhao", "吴": "Wu", "周": "Zhou", "徐": "Xu", "孙": "Sun",
    "马": "Ma", "朱": "Zhu", "胡": "Hu", "郭": "Guo", "何": "He", "高": "Gao", "林": "Lin",
    "罗": "Luo", "郑": "Zheng", "梁": "Liang", "谢": "Xie", "宋": "Song", "唐": "Tang",
}
_GIVEN = _words("伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 建华 建国 志强 "
          "海燕 雪 慧 婷 浩 宇 欣怡 子涵 梓轩 一诺 佳怡 俊杰 文博 晓明 玉兰 德明 淑珍 国强 红梅 "
          "丹 蕾 晨 鹏 颖 琳 斌 辉 健 翔 凯 琦 瑶 雯 思远 浩然 雨桐 嘉怡 天佑 沐阳")
_GIVEN_PINYIN = ("Wei", "Fang", "Na", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yang",
                 "Yong", "Yan", "Jie", "Juan", "Tao", "Ming", "Chao", "Xia", "Ping", "Gang",
                 "Jianhua", "Zhiqiang", "Haiyan", "Xue", "Hui", "Ting", "Hao", "Yu", "Xinyi",
                 "Zihan", "Junjie", "Wenbo", "Xiaoming", "Chen", "Peng", "Ying", "Lin", "Bin")
_EN_FIRST = ("James", "Emily", "Daniel", "Sophie", "Michael", "Olivia", "David", "Hannah",
             "Thomas", "Laura", "Lukas", "Anna", "Kenji", "Yuki", "Min-jun", "Seo-yeon",
             "Pierre", "Claire", "Marco", "Giulia", "Ahmed", "Sara", "Ivan", "Elena")
_EN_LAST = ("Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Anderson", "Clarke",
            "Müller", "Schmidt", "Tanaka", "Suzuki", "Kim", "Park", "Dubois", "Martin",
            "Rossi", "Bianchi", "Hassan", "Novak", "Petrov", "Carter", "Evans", "Walker")
_MOBILE_PREFIXES = _words("130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
                    "166 173 175 176 177 180 181 182 183 185 186 187 188 189 191 198 199")
_MAIL_ZH = ("qq.com", "163.com", "126.com", "sina.com", "139.com", "foxmail.com")
_MAIL_EN = ("gmail.com", "outlook.com", "hotmail.com", "icloud.com", "yahoo.com")
_VULNERABLE = (("elderly_alone", 45), ("infant", 25), ("patient", 15), ("disability", 15))
_NOTES_ZH = ("白天上班，晚上联系", "子女在外地，紧急联系人：女儿", "家中有轮椅", "钥匙寄存在物业",
             "出租户，房东在外地", "夜班工作，白天勿扰", "听力不好，请上门告知", "常年在国外，联系邮箱")
_NOTES_EN = ("Prefers e-mail", "Travels often, spouse at home", "Tenant; landlord abroad",
             "Speaks little Chinese, please use English")


def _mobile(rng: random.Random) -> str:
    digits = rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    style = rng.random()
    if style < 0.70:
        return digits
    if style < 0.85:
        return "+86" + digits
    if style < 0.95:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return f"+86 {digits[:3]}-{digits[3:7]}-{digits[7:]}"


def _zh_name(rng: random.Random) -> tuple[str, str]:
    surname = rng.choice(_SURNAMES)
    given = rng.choice(_GIVEN)
    pinyin = _PINYIN.get(surname, "")
    latin = f"{pinyin.lower()}.{rng.choice(_GIVEN_PINYIN).lower()}" if pinyin \
        else f"user{rng.randrange(10**6):06d}"
    return surname + given, latin


def _en_name(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.4:  # a Chinese name written in pinyin
        surname = rng.choice(list(_PINYIN.values()))
        given = rng.choice(_GIVEN_PINYIN)
        return f"{given} {surname}", f"{given}.{surname}".lower()
    first, last = rng.choice(_EN_FIRST), rng.choice(_EN_LAST)
    return f"{first} {last}", f"{first}.{last}".lower().replace("ü", "ue")


def _owner(unit: str, rng: random.Random) -> dict[str, str]:
    english = rng.random() < 0.10
    name, latin = _en_name(rng) if english else _zh_name(rng)
    has_phone = rng.random() < 0.95
    has_email = rng.random() < (0.85 if english else 0.55)
    if not has_phone and not has_email:
        has_phone = True
    email = ""
    if has_email:
        domain = rng.choice(_MAIL_EN if english else _MAIL_ZH)
        local = f"{rng.randrange(10**8, 10**10)}" if domain == "qq.com" \
            else f"{latin}{rng.randrange(100) if rng.random() < 0.6 else ''}"
        email = f"{local}@{domain}"
    chat = f"wxid_{rng.randrange(36**8):x}" if rng.random() < 0.35 else ""
    vulnerable: list[str] = []
    if rng.random() < 0.05:
        kinds, weights = zip(*_VULNERABLE, strict=True)
        vulnerable.append(rng.choices(kinds, weights)[0])
        if rng.random() < 0.1:
            other = rng.choice(kinds)
            if other not in vulnerable:
                vulnerable.append(other)
    tags = []
    if rng.random() < 0.42:
        tags.append("car_owner")
        if rng.random() < 0.25:
            tags.append("ev_owner")
    if rng.random() < 0.15:
        tags.append("pet")
    if rng.random() < 0.12:
        tags.append("renter")
    if rng.random() < 0.02:
        tags.append("floor_warden")
    notes = ""
    if (vulnerable and rng.random() < 0.6) or rng.random() < 0.03:
        notes = rng.choice(_NOTES_EN if english else _NOTES_ZH)
    return {
        "unit": unit, "name": name, "phone": _mobile(rng) if has_phone else "",
        "email": email, "chat": chat, "lang": "en" if english else "zh",
        "vulnerable": ";".join(vulnerable), "tags": ";".join(tags), "notes": notes,
    }


def generate_roster(units: Iterable[str | Unit], n: int | None = None,
                    seed: int = SEED) -> list[dict[str, str]]:
    """Owner rows for `units`: one owner each plus ~8% co-owners, or exactly `n` rows."""
    ids = [u.id if isinstance(u, Unit) else str(u) for u in units]
    rng = random.Random(seed)
    if not ids:
        return []
    if n is None:
        picks = []
        for uid in ids:
            picks.append(uid)
            if rng.random() < 0.08:
                picks.append(uid)
    else:
        order = {uid: i for i, uid in enumerate(ids)}
        picks = sorted((ids[i % len(ids)] for i in range(n)), key=order.__getitem__)
    return [_owner(uid, rng) for uid in picks]


def write_roster(path: str | Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    """Write rows as the roster CSV (header: unit,name,phone,...); returns the path."""
    out = Path(path)
    with out.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out


def main(argv: list[str] | None = None) -> int:
    from incident.directory.loader import ESTATE, ROSTER, _estate

    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "contacts")
    issues: list = []
    estate = _estate(folder / ESTATE, issues)
    if estate is None:
        for issue in issues:
            print(issue.format(), file=sys.stderr)
        return 1
    rows = generate_roster(estate.units.values())
    write_roster(folder / ROSTER, rows)
    print(f"wrote {len(rows)} owners for {len(estate.units)} units to {folder / ROSTER}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
