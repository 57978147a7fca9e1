#!/usr/bin/env python3
"""Generate synthetic 建档立卡 data for jzfp: household CSVs, village census CSVs
and the demo node tree. Standard library only; deterministic for a given seed.

  gen_data.py households --village CODE [--village CODE ...] --households N
                         --seed S [--year Y] [--chinese] [--bom] [--new]
                         [--bad [--expect FILE]] --out FILE
  gen_data.py update --register HOUSEHOLDS.csv --seed S [--exit-share F]
                     [--return-share F] --out FILE
  gen_data.py census --village CODE [...] --year Y --seed S
                     [--registry HOUSEHOLDS.csv ...] --out FILE
  gen_data.py tree --out NODES.csv [--villages-out VILLAGES.csv]
                   [--counties N] [--townships N] [--villages N] [--standins N]
  gen_data.py rollup --level LEVEL --census FILE ... --households FILE ...
                     [--year Y] [--under AREA] [--compare ROLLUP.csv] [--out FILE]

Everything is invented: names, ID numbers and incomes are random, only the
formats are real (GB 11643 ID numbers with a correct check character, the
register's code lists). --out FILE may contain "{village}": one file per
village is then written, and ID numbers stay unique across all of them.

`rollup` is the oracle: it computes what `jzfpctl rollup --format csv` should
print for the given files (poor = status 1 未脱贫 or 4 返贫; population = each
village's latest census with year <= Y), and with --compare checks a file
that jzfpctl printed against it (exit 1 on any difference).
"""

import argparse
import csv
import datetime
import io
import os
import random
import sys

# ---------------------------------------------------------------- columns

EN_COLUMNS = [
    "household_id", "village", "name", "id_number", "relation", "sex",
    "birth_date", "health", "labour", "attribute", "main_cause", "income",
    "status", "year",
]
ZH_OF = {
    "household_id": "户编号", "village": "村代码", "name": "姓名",
    "id_number": "身份证号", "relation": "与户主关系", "sex": "性别",
    "birth_date": "出生日期", "health": "健康状况", "labour": "劳动技能",
    "attribute": "贫困户属性", "main_cause": "主要致贫原因",
    "income": "人均纯收入", "status": "状态", "year": "年度",
}
EN_OF = {v: k for k, v in ZH_OF.items()}
# The Chinese layout deliberately uses another column order.
ZH_ORDER = [
    "year", "village", "household_id", "relation", "name", "sex",
    "birth_date", "id_number", "health", "labour", "attribute", "main_cause",
    "income", "status",
]
HOUSEHOLD_FIELDS = ["household_id", "village", "attribute", "main_cause",
                    "income", "status", "year"]
CENSUS_COLUMNS = ["village", "name", "year", "households", "population"]

# ---------------------------------------------------------------- codes

# relation (与户主关系), national register codes
REL_HEAD, REL_SPOUSE, REL_SON, REL_DAUGHTER = "01", "02", "03", "04"
REL_DIL, REL_SIL, REL_GRANDSON, REL_GRANDDAUGHTER = "05", "06", "07", "08"
REL_FATHER, REL_MOTHER, REL_OTHER = "11", "12", "99"

# status: 0 非贫困, 1 未脱贫, 2 已脱贫享受政策, 3 已脱贫不再享受政策, 4 返贫
STATUS_WEIGHTS = [("0", 5), ("1", 45), ("2", 28), ("3", 16), ("4", 6)]
# --new: a register a village starts, where every household is either not poor
# or proposed for identification (the other statuses need the procedure, or a
# county's migration of an existing register).
NEW_STATUS_WEIGHTS = [("0", 10), ("1", 90)]
# main cause 1..12: 因病 因残 因学 因灾 缺土地 缺水 缺技术 缺劳力 缺资金 交通 动力 其它
CAUSE_WEIGHTS = [(1, 38), (2, 11), (3, 8), (4, 3), (5, 4), (6, 2), (7, 12),
                 (8, 10), (9, 7), (10, 2), (11, 2), (12, 1)]
# attribute: 1 一般贫困户, 2 低保贫困户, 3 特困供养贫困户
ATTR_WEIGHTS = [(1, 68), (2, 27), (3, 5)]
SIZE_WEIGHTS = [(1, 9), (2, 17), (3, 24), (4, 25), (5, 15), (6, 7), (7, 3)]
# poverty line, yuan per capita per year, current prices (domain.md §2)
POVERTY_LINE = {2013: 2736, 2014: 2800, 2015: 2855, 2016: 2952, 2017: 3335,
                2018: 3535, 2019: 3747, 2020: 4000}

SURNAMES = ("马 韩 李 王 张 刘 赵 杨 陈 祁 鲁 冶 何 朱 徐 孙 胡 郭 周 吴 才 星 "
            "谢 苏 董 铁 白 田 罗 祝 郑 保 魏 沈 石 林 卢 曹 俞 黄").split()
GIVEN = ("明 华 英 兰 芳 军 国 福 成 忠 海 花 梅 秀 玉 生 林 德 春 云 平 "
         "庆 元 有 才 珍 青 山 宝 金 喜 顺 祥 红 霞 文 斌 龙 萍 娟 燕 莲").split()
PLACE = ("新庄 上寨 下寨 东沟 西沟 河滩 红崖 大庄 小庄 阳坡 阴坡 古城 柳林 "
         "石山 营盘 泉湾 黄家 杨家 马场 边麻 草原 双树 沙沟 达坂 松多 峡门 "
         "宝库 元树 塔尔 景阳").split()
TOWN = "桥头 城关 塔尔 长宁 景阳 多林 青林 浩门 青石嘴 泉口 东川 皇城 苏吉滩 仙米".split()

# Demo names; other codes get generated names.
DEMO_NAMES = {
    "630000000000": "青海省(demo)",
    "630100000000": "西宁市",
    "632200000000": "海北藏族自治州",
    "630121000000": "大通县",
    "630121101000": "桥头镇",
    "630121101001": "桥头镇新庄村",
    "630121102000": "城关镇",
    "630121103000": "塔尔镇",
    "632221000000": "门源县",
    "632221101000": "浩门镇",
    "632221102000": "青石嘴镇",
}
# (prefecture, county) pairs used by `tree`, Qinghai-like.
COUNTIES = ["630121", "632221", "630122", "632321", "632521", "632621",
            "632721", "632821", "630123", "632222", "632322", "632522"]
OTHER_COUNTIES = ["0102", "0103", "0104", "0121", "0122", "0123", "0223",
                  "2221", "2222", "2321", "2521", "2621", "2721", "2801"]

W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


class Usage(Exception):
    """A usage or input error: printed as one line, exit status 2."""


def check_char(first17):
    """GB 11643 / ISO 7064 MOD 11-2 check character of 17 digits."""
    s = sum(int(c) * w for c, w in zip(first17, W))
    return "10X98765432"[s % 11]


def level_of(code):
    """Level of a 12-digit code, or None when it is not a valid code."""
    if len(code) != 12 or not code.isdigit():
        return None
    groups = [code[0:2], code[2:4], code[4:6], code[6:9], code[9:12]]
    if groups[0] == "00":
        return None
    names = ["province", "prefecture", "county", "township", "village"]
    seen_zero = False
    level = None
    for i, g in enumerate(groups):
        if int(g) == 0:
            seen_zero = True
        elif seen_zero:
            return None
        else:
            level = names[i]
    return level


def pad(code, digits):
    return code[:digits] + "0" * (12 - digits)


def pick(rng, weights):
    total = sum(w for _, w in weights)
    x = rng.uniform(0, total)
    for v, w in weights:
        x -= w
        if x <= 0:
            return v
    return weights[-1][0]


def stable_index(code, n):
    """A small deterministic number from a code (not Python's salted hash)."""
    return int(code) * 2654435761 % 4294967296 % n


def town_name(code):
    if code in DEMO_NAMES:
        return DEMO_NAMES[code]
    return TOWN[stable_index(code, len(TOWN))] + ("镇" if int(code[6:9]) < 200 else "乡")


def area_name(code):
    """The display name of an area; villages are "<township><village>村"."""
    if code in DEMO_NAMES:
        return DEMO_NAMES[code]
    level = level_of(code)
    if level == "village":
        return town_name(pad(code, 9)) + PLACE[stable_index(code, len(PLACE))] + "村"
    if level == "township":
        return town_name(code)
    if level == "county":
        return "县" + code[:6]
    if level == "prefecture":
        return "州" + code[:4]
    return "省" + code[:2]


class open_out:
    """A text file for writing, or stdout for "-" (left open on exit)."""

    def __init__(self, path, bom=False):
        self.path, self.bom = path, bom

    def __enter__(self):
        enc = "utf-8-sig" if self.bom else "utf-8"
        if self.path == "-":
            self.f = io.TextIOWrapper(sys.stdout.buffer, encoding=enc, newline="")
        else:
            d = os.path.dirname(self.path)
            if d:
                os.makedirs(d, exist_ok=True)
            self.f = open(self.path, "w", encoding=enc, newline="")
        return self.f

    def __exit__(self, *exc):
        if self.path == "-":
            self.f.flush()
            self.f.detach()
        else:
            self.f.close()


def check_villages(codes):
    seen = set()
    for c in codes:
        if level_of(c) != "village":
            raise Usage(f"--village {c}: not a 12-digit village code")
        if c in seen:
            raise Usage(f"--village {c}: given twice")
        seen.add(c)


# ---------------------------------------------------------------- people

class People:
    """Issues unique, valid ID numbers for the whole run."""

    def __init__(self):
        self.used = set()

    def issue(self, rng, county6, birth, male):
        ymd = birth.strftime("%Y%m%d")
        for _ in range(2000):
            k = rng.randrange(0, 499)
            seq = 2 * k + 1 if male else 2 * k + 2
            first17 = f"{county6}{ymd}{seq:03d}"
            idn = first17 + check_char(first17)
            if idn not in self.used:
                self.used.add(idn)
                return idn
        raise RuntimeError("ID number space exhausted for one birth date")


def random_birth(rng, year, age):
    """A birth date such that the person is `age` at the end of `year`."""
    by = year - age
    start = datetime.date(by, 1, 1)
    days = (datetime.date(by, 12, 31) - start).days
    return start + datetime.timedelta(days=rng.randint(0, days))


def labour_for(rng, age, health):
    if age < 16:
        return "04"
    if age >= 70:
        return pick(rng, [("03", 40), ("04", 60)])
    if health == "04":
        return pick(rng, [("01", 20), ("03", 60), ("04", 20)])
    if age >= 60:
        return pick(rng, [("01", 55), ("03", 35), ("04", 10)])
    return pick(rng, [("01", 72), ("02", 18), ("03", 7), ("04", 3)])


def health_for(rng, age):
    if age >= 60:
        return pick(rng, [("01", 45), ("02", 32), ("03", 10), ("04", 13)])
    if age < 18:
        return pick(rng, [("01", 92), ("02", 3), ("03", 2), ("04", 3)])
    return pick(rng, [("01", 74), ("02", 13), ("03", 6), ("04", 7)])


def person_name(rng, surname=None):
    s = surname or rng.choice(SURNAMES)
    n = rng.choice([1, 2, 2, 2])
    return s + "".join(rng.choice(GIVEN) for _ in range(n))


def member_plan(rng, size, year):
    """(relation, sex_is_male, age, shares_surname) for a household of size."""
    head_age = rng.randint(26, 78)
    head_male = rng.random() < 0.85
    plan = [(REL_HEAD, head_male, head_age, True)]
    if size >= 2 and rng.random() < 0.88:
        plan.append((REL_SPOUSE, not head_male, max(20, head_age + rng.randint(-5, 5)), False))
    children = []
    while len(plan) + len(children) < size and len(children) < 3 and head_age - 20 >= 0:
        age = head_age - rng.randint(20, 36)
        if age < 0:
            age = rng.randint(0, 3)
        male = rng.random() < 0.52
        children.append((REL_SON if male else REL_DAUGHTER, male, age, True))
    plan.extend(children)
    sons = [c for c in children if c[0] == REL_SON and c[2] >= 21]
    if head_age >= 50 and sons:
        if len(plan) < size:
            son_age = sons[0][2]
            plan.append((REL_DIL, False, max(20, son_age + rng.randint(-4, 3)), False))
        while len(plan) < size:
            age = max(0, sons[0][2] - rng.randint(20, 32))
            male = rng.random() < 0.52
            plan.append((REL_GRANDSON if male else REL_GRANDDAUGHTER, male, age, True))
    elif head_age <= 55:
        if len(plan) < size and head_age + 22 <= 92:
            plan.append((REL_FATHER, True, min(95, head_age + rng.randint(22, 32)), True))
        if len(plan) < size and head_age + 20 <= 92:
            plan.append((REL_MOTHER, False, min(95, head_age + rng.randint(20, 30)), False))
    while len(plan) < size:
        plan.append((REL_OTHER, rng.random() < 0.5, rng.randint(5, 70), False))
    return plan[:size]


def format_income(rng, yuan):
    r = rng.random()
    if r < 0.2:
        return str(int(yuan))
    if r < 0.3:
        return f"{yuan:.1f}"
    return f"{yuan:.2f}"


def make_household(rng, people, village, serial, year, other_prefix, weights=STATUS_WEIGHTS):
    """A list of row dicts (EN keys) for one household, head first."""
    line = POVERTY_LINE.get(year, 3747 if year > 2013 else 2736)
    size = pick(rng, SIZE_WEIGHTS)
    status = pick(rng, weights)
    attribute = pick(rng, ATTR_WEIGHTS)
    cause = pick(rng, CAUSE_WEIGHTS)
    if status in ("1", "4"):
        yuan = rng.uniform(line * 0.35, line * 0.98)
    elif status in ("2", "3"):
        yuan = rng.uniform(line * 1.05, line * 3.2)
    else:
        yuan = rng.uniform(line * 1.5, line * 6.0)
    income = format_income(rng, round(yuan, 2))
    hh_id = f"{village}{serial:04d}"
    county6 = village[:6]
    surname = rng.choice(SURNAMES)
    rows = []
    for rel, male, age, same in member_plan(rng, size, year):
        c6 = county6 if rng.random() < 0.9 else other_prefix(rng)
        birth = random_birth(rng, year, age)
        idn = people.issue(rng, c6, birth, male)
        health = health_for(rng, age)
        rows.append({
            "household_id": hh_id, "village": village,
            "name": person_name(rng, surname if same else None),
            "id_number": idn, "relation": rel, "sex": "1" if male else "2",
            "birth_date": birth.isoformat(), "health": health,
            "labour": labour_for(rng, age, health), "attribute": str(attribute),
            "main_cause": str(cause), "income": income, "status": status,
            "year": str(year),
        })
    return rows


def other_county_fn(village):
    pp = village[:2]

    def f(rng):
        while True:
            c = pp + rng.choice(OTHER_COUNTIES)
            if c != village[:6]:
                return c
    return f


# ---------------------------------------------------------------- bad rows

BAD_KINDS = [
    # kind, column, what is wrong
    ("check_char", "id_number", "ID number with a wrong check character"),
    ("unknown_cause", "main_cause", "main cause 13 (codes are 1..12)"),
    ("inconsistent_household_field", "status",
     "a member row's status differs from the head's"),
    ("village_outside_area", "village",
     "a household of a village in another province"),
    ("birth_date_mismatch", "birth_date", "birth date disagrees with the ID number"),
    ("two_heads", "relation", "two rows with relation 01"),
    ("no_head", "relation", "a household without a relation 01 row"),
    ("bad_sex", "sex", "sex 3 (codes are 1, 2)"),
    ("bad_income", "income", "income with 3 decimals"),
    ("household_id_mismatch", "household_id",
     "household id whose first 12 digits are not its village"),
    ("short_row", "", "a row with one field missing"),
]


def break_household(kind, rng, people, rows):
    """Corrupt one freshly generated household in place. Returns (rows,
    index of the offending row, column)."""
    if kind == "check_char":
        i = len(rows) - 1
        idn = rows[i]["id_number"]
        wrong = [c for c in "0123456789X" if c != idn[17]]
        rows[i]["id_number"] = idn[:17] + rng.choice(wrong)
        return rows, i, "id_number"
    if kind == "unknown_cause":
        rows = rows[:1]
        rows[0]["main_cause"] = "13"
        return rows, 0, "main_cause"
    if kind == "inconsistent_household_field":
        i = len(rows) - 1
        rows[i]["status"] = "3" if rows[0]["status"] != "3" else "1"
        return rows, i, "status"
    if kind == "village_outside_area":
        rows = rows[:1]
        v = "64" + rows[0]["village"][2:]
        rows[0]["village"] = v
        rows[0]["household_id"] = v + rows[0]["household_id"][12:]
        return rows, 0, "village"
    if kind == "birth_date_mismatch":
        i = len(rows) - 1
        d = datetime.date.fromisoformat(rows[i]["birth_date"])
        d = d + datetime.timedelta(days=rng.choice([-40, -3, 5, 61]))
        rows[i]["birth_date"] = d.isoformat()
        return rows, i, "birth_date"
    if kind == "two_heads":
        i = len(rows) - 1
        rows[i]["relation"] = REL_HEAD
        return rows, i, "relation"
    if kind == "no_head":
        rows[0]["relation"] = REL_OTHER
        return rows, 0, "relation"
    if kind == "bad_sex":
        i = len(rows) - 1
        rows[i]["sex"] = "3"
        return rows, i, "sex"
    if kind == "bad_income":
        for r in rows:
            r["income"] = "1234.567"
        return rows, 0, "income"
    if kind == "household_id_mismatch":
        for r in rows:
            hh = r["household_id"]
            other = hh[:9] + f"{(int(hh[9:12]) % 998) + 1:03d}"
            r["household_id"] = other + hh[12:]
        return rows, 0, "household_id"
    if kind == "short_row":
        i = len(rows) - 1
        rows[i]["__short__"] = True
        return rows, i, ""
    raise AssertionError(kind)


def ensure_size(rng, people, village, serial, year, minimum):
    """Generate households until one has at least `minimum` members."""
    state = rng.getstate()
    for attempt in range(200):
        rows = make_household(rng, people, village, serial, year, other_county_fn(village))
        if len(rows) >= minimum:
            return rows
        for r in rows:
            people.used.discard(r["id_number"])
    rng.setstate(state)
    raise RuntimeError("could not make a household of the size needed")


# ---------------------------------------------------------------- households

def write_rows(f, columns_en, rows, chinese):
    w = csv.writer(f, lineterminator="\n")
    w.writerow([ZH_OF[c] for c in columns_en] if chinese else columns_en)
    for r in rows:
        vals = [r[c] for c in columns_en]
        if r.get("__short__"):
            vals = vals[:-1]
        w.writerow(vals)


def cmd_households(a):
    check_villages(a.village)
    last = a.first_serial + a.households - 1 + (len(BAD_KINDS) if a.bad else 0)
    if a.households < 1 or a.first_serial < 1 or last > 9999:
        raise Usage("--households and --first-serial: serials must stay within "
                    "0001..9999 (4 digits)")
    if not 1990 <= a.year <= 2100:
        raise Usage("--year must be a year such as 2019")
    if "{village}" in a.out and a.bad:
        raise Usage("--bad writes one file: --out must not contain {village}")
    for v in a.chinese_village:
        if v not in a.village:
            raise Usage(f"--chinese-village {v}: not one of the --village codes")
    if a.chinese_village and "{village}" not in a.out:
        raise Usage("--chinese-village needs {village} in --out")
    if a.bad and a.out == "-" and not a.expect:
        raise Usage("--bad with --out - needs --expect FILE")
    people = People()
    columns = ZH_ORDER if a.chinese else EN_COLUMNS
    per_village = {}
    for v in a.village:
        rng = random.Random(f"jzfp:{a.seed}:{v}:{a.year}")
        rows = []
        for serial in range(a.first_serial, a.first_serial + a.households):
            rows.extend(make_household(rng, people, v, serial, a.year, other_county_fn(v),
                                       NEW_STATUS_WEIGHTS if a.new else STATUS_WEIGHTS))
        per_village[v] = (rows, rng)

    expect = []
    if a.bad:
        v = a.village[0]
        rows, rng = per_village[v]
        # Household boundaries of the good rows.
        groups = []
        for r in rows:
            if groups and groups[-1][0]["household_id"] == r["household_id"]:
                groups[-1].append(r)
            else:
                groups.append([r])
        serial = a.first_serial + a.households - 1
        spaced = []
        step = max(1, len(groups) // (len(BAD_KINDS) + 1))
        for k, (kind, _, what) in enumerate(BAD_KINDS):
            serial += 1
            need = 1 if kind in ("unknown_cause", "village_outside_area") else 2
            hh = ensure_size(rng, people, v, serial, a.year, need)
            hh, idx, col = break_household(kind, rng, people, hh)
            spaced.append(((k + 1) * step, kind, what, hh, idx, col))
        out_groups = []
        bad_at = {}
        for pos, kind, what, hh, idx, col in spaced:
            bad_at.setdefault(pos, []).append((kind, what, hh, idx, col))
        for gi, g in enumerate(groups):
            out_groups.append((None, g, None, None))
            for kind, what, hh, idx, col in bad_at.get(gi + 1, []):
                out_groups.append((kind, hh, idx, (col, what)))
        for gi in sorted(k for k in bad_at if k > len(groups)):
            for kind, what, hh, idx, col in bad_at[gi]:
                out_groups.append((kind, hh, idx, (col, what)))
        rows = []
        line = 2  # line 1 is the header
        for kind, hh, idx, info in out_groups:
            if kind:
                col, what = info
                expect.append({
                    "kind": kind, "household_id": hh[idx]["household_id"],
                    "line": line + idx, "column": ZH_OF[col] if (a.chinese and col) else col,
                    "first_line": line, "last_line": line + len(hh) - 1,
                    "what": what,
                })
            rows.extend(hh)
            line += len(hh)
        per_village[v] = (rows, rng)

    if "{village}" in a.out:
        for v in a.village:
            zh = a.chinese or v in a.chinese_village
            with open_out(a.out.replace("{village}", v), a.bom) as f:
                write_rows(f, ZH_ORDER if zh else EN_COLUMNS, per_village[v][0], zh)
    else:
        with open_out(a.out, a.bom) as f:
            write_rows(f, columns, [r for v in a.village for r in per_village[v][0]],
                       a.chinese)

    if a.bad:
        keys = ["kind", "household_id", "line", "column", "first_line", "last_line", "what"]
        with open_out(a.expect or "-") as f:
            w = csv.DictWriter(f, keys, lineterminator="\n")
            w.writeheader()
            w.writerows(expect)


# ---------------------------------------------------------------- update

def cmd_update(a):
    """Next year's register (动态调整) from this year's: every household again
    with year + 1 and a new income; some statuses change the way a year
    changes them (exits of poor households whose income rose above the line,
    a few returns to poverty, a few identifications of households not poor
    before). Deterministic for a seed. Statuses that change are what a
    village proposes through 两公示一公告 when it imports the new register."""
    with open(a.register, encoding="utf-8-sig", newline="") as f:
        rd = csv.reader(f)
        header = next(rd, None)
        if header is None:
            raise Usage(f"{a.register}: empty")
        keys = [EN_OF.get(h.strip(), h.strip()) for h in header]
        missing = [c for c in EN_COLUMNS if c not in keys]
        if missing:
            raise Usage(f"{a.register}: not a households CSV (no {', '.join(missing)})")
        rows = [dict(zip(keys, r)) for r in rd if r and any(x.strip() for x in r)]
    chinese = header[0].strip().lstrip("\ufeff") in ZH_OF.values()
    groups = {}
    for r in rows:
        groups.setdefault(r["household_id"], []).append(r)
    out = []
    changed = {"exit": 0, "return": 0, "identify": 0}
    for hid in sorted(groups):
        rng = random.Random(f"jzfp-update:{a.seed}:{hid}")
        members = groups[hid]
        head = next((m for m in members if m["relation"] in ("01", "1")), members[0])
        year = int(head["year"]) + 1
        line = POVERTY_LINE.get(year, 4000)
        status = head["status"]
        new = status
        roll = rng.random()
        if status == "1" and roll < a.exit_share:
            new, changed["exit"] = "2", changed["exit"] + 1
        elif status in ("2", "3") and roll < a.return_share:
            new, changed["return"] = "4", changed["return"] + 1
        elif status == "4" and roll < a.exit_share:
            new, changed["exit"] = "2", changed["exit"] + 1
        elif status == "0" and roll < a.return_share:
            new, changed["identify"] = "1", changed["identify"] + 1
        if new in ("1", "4"):
            yuan = rng.uniform(line * 0.40, line * 0.98)
        elif new in ("2", "3"):
            yuan = rng.uniform(line * 1.05, line * 3.0)
        else:
            yuan = rng.uniform(line * 1.5, line * 6.0)
        income = format_income(rng, round(yuan, 2))
        for m in members:
            m = dict(m)
            m["year"] = str(year)
            if m["status"].strip():
                m["status"] = new
            if m["income"].strip():
                m["income"] = income
            out.append(m)
    columns = ZH_ORDER if chinese else EN_COLUMNS
    with open_out(a.out) as f:
        write_rows(f, columns, out, chinese)
    print(f"gen_data.py update: {len(groups)} households, {changed['exit']} exits, "
          f"{changed['return']} returns, {changed['identify']} identifications",
          file=sys.stderr)


# ---------------------------------------------------------------- census

def read_households(path):
    """Counts {village: [households set, persons]} from a households CSV in
    either layout."""
    counts = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        r = csv.reader(f)
        header = next(r, None)
        if header is None:
            return counts
        keys = [EN_OF.get(h.strip(), h.strip()) for h in header]
        try:
            iv, ih = keys.index("village"), keys.index("household_id")
        except ValueError:
            raise Usage(f"{path}: not a households CSV (no village/household_id column)")
        for row in r:
            if len(row) <= max(iv, ih):
                continue
            c = counts.setdefault(row[iv], [set(), 0])
            c[0].add(row[ih])
            c[1] += 1
    return counts


def cmd_census(a):
    check_villages(a.village)
    if not 1990 <= a.year <= 2100:
        raise Usage("--year must be a year such as 2019")
    reg = {}
    for p in a.registry or []:
        for v, (hh, n) in read_households(p).items():
            c = reg.setdefault(v, [0, 0])
            c[0] += len(hh)
            c[1] += n
    with open_out(a.out) as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CENSUS_COLUMNS)
        for v in a.village:
            rng = random.Random(f"jzfp-census:{a.seed}:{v}:{a.year}")
            households = rng.randint(300, 1500)
            rh, rp = reg.get(v, (0, 0))
            # The registered households live in the village too: keep the
            # census above the register (the rest average two persons or more).
            households = max(households, rh + rng.randint(60, 400)) if rh else households
            population = max(1000, round(households * rng.uniform(2.9, 3.8)))
            population = max(population, rp + (households - rh) * 2)
            w.writerow([v, area_name(v), a.year, households, population])


# ---------------------------------------------------------------- tree

def cmd_tree(a):
    for name in ("counties", "townships", "villages", "standins"):
        if getattr(a, name) < 0:
            raise Usage(f"--{name} must not be negative")
    if a.counties > len(COUNTIES):
        raise Usage(f"--counties: at most {len(COUNTIES)}")
    if a.townships + a.standins > 99 or a.villages > 199:
        raise Usage("--townships/--standins/--villages too large")
    prov = a.province
    if level_of(prov) != "province":
        raise Usage(f"--province {prov}: not a province code")
    nodes = [(prov, "province", area_name(prov))]
    villages = []  # (village, name, serving node)
    for ci in range(a.counties):
        county = prov[:2] + COUNTIES[ci][2:] + "000000"
        nodes.append((county, "county", area_name(county)))
        n_town = a.townships + (a.standins if ci == 0 else 0)
        for ti in range(n_town):
            town = county[:6] + f"{101 + ti:03d}" + "000"
            nodes.append((town, "township", area_name(town)))
            standin = ti >= a.townships
            for vi in range(a.villages):
                v = town[:9] + f"{201 + vi:03d}"
                if standin:
                    villages.append((v, area_name(v), town))
                else:
                    nodes.append((v, "village", area_name(v)))
                    villages.append((v, area_name(v), v))
    with open_out(a.out) as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["area", "level", "name"])
        w.writerows(nodes)
    if a.villages_out:
        with open_out(a.villages_out) as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["village", "name", "node"])
            w.writerows(villages)


# ---------------------------------------------------------------- rollup

ROLLUP_COLUMNS = ["area", "level", "name", "year", "rural_population",
                  "poor_households", "poor_persons", "incidence_pct"]


def incidence_text(poor, population):
    """Percentage with two decimals, rounded half up, in integers (rollup
    never rounds up onto the exit line: the comparison allows a hundredth)."""
    if population <= 0:
        return ""
    h = (poor * 20000 + population) // (2 * population)
    return f"{h // 100}.{h % 100:02d}"


def expected_rollup(a):
    digits = {"province": 2, "prefecture": 4, "county": 6, "township": 9, "village": 12}[a.level]
    census = {}  # village -> (year, population)
    for path in a.census:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for r in csv.DictReader(f):
                y = int(r["year"])
                if a.year is not None and y > a.year:
                    continue
                v = r["village"]
                if v not in census or census[v][0] <= y:
                    census[v] = (y, int(r["population"]))
    households = {}  # id -> (year, status, persons)
    for path in a.households:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rd = csv.reader(f)
            keys = [EN_OF.get(h.strip(), h.strip()) for h in next(rd)]
            per = {}
            for n, row in enumerate(rd, start=2):
                if len(row) != len(keys):
                    print(f"gen_data.py: {path}:{n}: {len(row)} fields, the header has "
                          f"{len(keys)}; row ignored", file=sys.stderr)
                    continue
                d = dict(zip(keys, row))
                y = int(d["year"])
                if a.year is not None and y > a.year:
                    continue
                k = (d["household_id"], y)
                per.setdefault(k, [d["status"], 0])[1] += 1
            for (hid, y), (status, n) in per.items():
                if hid not in households or households[hid][0] <= y:
                    households[hid] = (y, status, n)
    under = a.under.rstrip("0") if a.under else ""
    out = {}

    def row(area):
        return out.setdefault(area, {"population": 0, "hh": 0, "persons": 0})
    for v, (_, pop) in census.items():
        if v.startswith(under):
            row(pad(v, digits))["population"] += pop
    for hid, (_, status, n) in households.items():
        v = hid[:12]
        if not v.startswith(under):
            continue
        r = row(pad(v, digits))
        if status in ("1", "4"):
            r["hh"] += 1
            r["persons"] += n
    year = a.year if a.year is not None else max(
        [y for y, _ in census.values()] + [y for y, _, _ in households.values()] or [0])
    rows = []
    for area in sorted(out):
        r = out[area]
        rows.append({"area": area, "level": a.level, "name": area_name(area),
                     "year": str(year), "rural_population": str(r["population"]),
                     "poor_households": str(r["hh"]), "poor_persons": str(r["persons"]),
                     "incidence_pct": incidence_text(r["persons"], r["population"])})
    return rows


def cmd_rollup(a):
    if a.under and level_of(a.under) is None:
        raise Usage(f"--under {a.under}: not an area code")
    rows = expected_rollup(a)
    if not a.compare:
        with open_out(a.out or "-") as f:
            w = csv.DictWriter(f, ROLLUP_COLUMNS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return 0
    with open(a.compare, encoding="utf-8-sig", newline="") as f:
        got = {r.get("area", ""): r for r in csv.DictReader(f)}
    bad = []
    for r in rows:
        g = got.pop(r["area"], None)
        if g is None:
            bad.append(f"{r['area']}: missing from {a.compare}")
            continue
        for k in ("level", "year", "rural_population", "poor_households", "poor_persons"):
            if (g.get(k) or "").strip() != r[k]:
                bad.append(f"{r['area']}: {k} is {g.get(k)!r}, expected {r[k]!r}")
        try:
            gp = float((g.get("incidence_pct") or "").strip().rstrip("%"))
            if not r["incidence_pct"] or abs(gp - float(r["incidence_pct"])) > 0.0101:
                raise ValueError
        except ValueError:
            bad.append(f"{r['area']}: incidence_pct is {g.get('incidence_pct')!r}, "
                       f"expected {r['incidence_pct']!r}")
    for area, g in got.items():
        if any((g.get(k) or "0") not in ("0", "") for k in ("poor_persons", "rural_population")):
            bad.append(f"{area}: in {a.compare} but not in the data")
    if bad:
        print(f"rollup differs from the data ({len(bad)} differences):", file=sys.stderr)
        for b in bad:
            print("  " + b, file=sys.stderr)
        return 1
    print(f"rollup agrees with the data: {len(rows)} {a.level} row{'' if len(rows) == 1 else 's'}")
    return 0


# ---------------------------------------------------------------- main

def main(argv):
    p = argparse.ArgumentParser(
        prog="gen_data.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", metavar="households|update|census|tree|rollup")
    sub.required = True

    h = sub.add_parser("households", help="households CSV, one row per person")
    h.add_argument("--village", action="append", required=True, metavar="CODE",
                   help="12-digit village code (repeat for several villages)")
    h.add_argument("--households", type=int, required=True, metavar="N",
                   help="households per village (1..9999)")
    h.add_argument("--seed", required=True, metavar="S")
    h.add_argument("--first-serial", type=int, default=1, metavar="K",
                   help="household serials start at K (default 1)")
    h.add_argument("--year", type=int, default=2019, metavar="Y")
    h.add_argument("--chinese", action="store_true",
                   help="Chinese headers (户编号, 姓名, ...) in another column order")
    h.add_argument("--bom", action="store_true", help="start the file with a UTF-8 BOM")
    h.add_argument("--new", action="store_true",
                   help="a new register: every household not poor (0) or proposed for "
                        "identification (1)")
    h.add_argument("--chinese-village", action="append", metavar="CODE", default=[],
                   help="with {village} in --out: write this village's file in the "
                        "Chinese layout (repeatable)")
    h.add_argument("--bad", action="store_true",
                   help="also emit broken households (one per kind of error) in the "
                        "first village's data; their list goes to --expect or stdout")
    h.add_argument("--expect", metavar="FILE",
                   help="with --bad: where to write the list of broken rows (CSV)")
    h.add_argument("--out", required=True, metavar="FILE",
                   help="output file, '-' for stdout; '{village}' in the name "
                        "writes one file per village")
    h.set_defaults(func=cmd_households)

    u = sub.add_parser("update", help="next year's register from this year's (动态调整)")
    u.add_argument("--register", required=True, metavar="HOUSEHOLDS.csv",
                   help="this year's households CSV (either layout)")
    u.add_argument("--seed", required=True, metavar="S")
    u.add_argument("--exit-share", type=float, default=0.3, metavar="F",
                   help="share of poor households that exit (default 0.3)")
    u.add_argument("--return-share", type=float, default=0.03, metavar="F",
                   help="share of exited households that return to poverty, and of "
                        "households not poor that are identified (default 0.03)")
    u.add_argument("--out", required=True, metavar="FILE")
    u.set_defaults(func=cmd_update)

    c = sub.add_parser("census", help="village census CSV (the incidence denominator)")
    c.add_argument("--village", action="append", required=True, metavar="CODE")
    c.add_argument("--year", type=int, required=True, metavar="Y")
    c.add_argument("--seed", required=True, metavar="S")
    c.add_argument("--registry", action="append", metavar="HOUSEHOLDS.csv",
                   help="households CSV of these villages: the census is kept "
                        "at least as large as the register (repeatable)")
    c.add_argument("--out", required=True, metavar="FILE")
    c.set_defaults(func=cmd_census)

    t = sub.add_parser("tree", help="the demo node tree (area,level,name)")
    t.add_argument("--out", required=True, metavar="NODES.csv")
    t.add_argument("--villages-out", metavar="VILLAGES.csv",
                   help="every village (with or without a node) and the node serving it")
    t.add_argument("--province", default="630000000000", metavar="CODE")
    t.add_argument("--counties", type=int, default=2, help="counties (default 2)")
    t.add_argument("--townships", type=int, default=2,
                   help="townships with village nodes per county (default 2)")
    t.add_argument("--villages", type=int, default=2,
                   help="villages per township (default 2)")
    t.add_argument("--standins", type=int, default=1,
                   help="extra townships in the first county that stand in for their "
                        "villages (default 1)")
    t.set_defaults(func=cmd_tree)

    r = sub.add_parser("rollup", help="expected rollup of generated files (test oracle)")
    r.add_argument("--level", required=True,
                   choices=["village", "township", "county", "prefecture", "province"])
    r.add_argument("--census", action="append", default=[], metavar="FILE")
    r.add_argument("--households", action="append", default=[], metavar="FILE")
    r.add_argument("--year", type=int, metavar="Y")
    r.add_argument("--under", metavar="AREA")
    r.add_argument("--compare", metavar="ROLLUP.csv",
                   help="check this `jzfpctl rollup --format csv` output against the data")
    r.add_argument("--out", metavar="FILE", help="default stdout")
    r.set_defaults(func=cmd_rollup)

    a = p.parse_args(argv)
    try:
        rc = a.func(a)
    except Usage as e:
        print(f"gen_data.py: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"gen_data.py: {e}", file=sys.stderr)
        return 1
    except (KeyError, ValueError) as e:
        print(f"gen_data.py: bad input: {e}", file=sys.stderr)
        return 1
    return rc or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
