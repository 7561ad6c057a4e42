"""Generate the sample halls (guides/halls.yaml) and door plates (guides/plates.csv).

The shipped halls and plates are SAMPLE data for 南安市: town names are real,
addresses, phone numbers and coordinates (GCJ-02, approximate) are made up.
Which items a hall handles follows each guide's `where.levels`, so rerun this
after adding a guide:  .venv/bin/python scripts/sample_data.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
GUIDES = ROOT / "guides"

# (name, kind, lng, lat, roads, communities) — approximate GCJ-02 town centres.
TOWNS = [
    (
        "溪美街道",
        "街道",
        118.3862,
        24.9608,
        ["成功街", "新华街", "南新街", "溪州路"],
        ["溪一社区", "溪二社区", "成功社区", "新华社区"],
    ),
    (
        "柳城街道",
        "街道",
        118.3985,
        24.9552,
        ["柳城路", "南安大道", "金山路", "美宇路"],
        ["柳东社区", "园美社区", "金街社区", "美宇社区"],
    ),
    ("美林街道", "街道", 118.3724, 24.9451, ["美林大道", "洋美路", "梅亭路"], ["美林社区", "洋美社区", "梅亭社区"]),
    ("省新镇", "镇", 118.4521, 24.9353, ["省新路", "满山红路"], ["省东村", "满山红村", "油园村"]),
    ("仑苍镇", "镇", 118.3452, 25.0051, ["仑苍街", "辉煌路"], ["仑苍村", "高山村", "苍溪村"]),
    ("东田镇", "镇", 118.3051, 25.0402, ["东田街", "丰山路"], ["东田村", "丰山村", "南坑村"]),
    ("英都镇", "镇", 118.2653, 25.0355, ["英都街", "溪东路"], ["英东村", "良山村", "云山村"]),
    ("翔云镇", "镇", 118.1902, 25.1351, ["翔云街"], ["翔云村", "福庭村"]),
    ("金淘镇", "镇", 118.2504, 25.1503, ["金淘街", "占石路"], ["金淘村", "占石村", "深垵村"]),
    ("诗山镇", "镇", 118.3103, 25.1102, ["诗山街", "凤山路"], ["诗山村", "社坛村", "山一村"]),
    ("蓬华镇", "镇", 118.2551, 25.2403, ["蓬华街"], ["蓬岛村", "华美村"]),
    ("码头镇", "镇", 118.3552, 25.1503, ["码头街", "大庭路"], ["码头村", "大庭村", "仙都村"]),
    ("九都镇", "镇", 118.4102, 25.1302, ["九都街"], ["九都村", "金圭村"]),
    ("乐峰镇", "镇", 118.4503, 25.0752, ["乐峰街"], ["乐峰村", "福林村"]),
    ("罗东镇", "镇", 118.4552, 25.0402, ["罗东街", "振兴路"], ["罗东村", "振兴村"]),
    ("梅山镇", "镇", 118.4151, 25.0553, ["梅山街", "芙蓉路"], ["梅山村", "芙蓉村", "灯光村"]),
    ("洪濑镇", "镇", 118.4753, 25.0102, ["洪濑街", "西林路", "葵星路"], ["洪濑社区", "西林村", "葵星村"]),
    ("洪梅镇", "镇", 118.5152, 25.0453, ["洪梅街"], ["洪梅村", "六一村"]),
    ("康美镇", "镇", 118.4701, 24.9752, ["康美街", "福铸路"], ["康美村", "福铸村", "梅魁村"]),
    ("丰州镇", "镇", 118.4902, 24.9451, ["丰州街", "桃源路"], ["丰州村", "桃源村", "旭山村"]),
    ("霞美镇", "镇", 118.4303, 24.9852, ["霞美街", "仙景路"], ["霞美村", "仙景村"]),
    ("官桥镇", "镇", 118.3952, 24.8302, ["官桥街", "内厝路"], ["官桥村", "内厝村", "善坛村"]),
    ("水头镇", "镇", 118.4203, 24.7053, ["水头街", "朴里路", "海联路"], ["水头社区", "朴里村", "大盈村"]),
    ("石井镇", "镇", 118.4301, 24.6251, ["石井街", "延平路"], ["石井村", "奎霞村", "大佑山村"]),
    ("眉山乡", "乡", 118.1652, 25.2153, ["眉山街"], ["眉山村", "高田村"]),
    ("向阳乡", "乡", 118.1201, 25.1002, ["向阳街"], ["向阳村", "坑头村"]),
]

# Village/community stations (便民服务站): (town, community, offset east, offset north)
STATIONS = [
    ("溪美街道", "溪一社区", 0.004, 0.002),
    ("溪美街道", "成功社区", -0.003, 0.004),
    ("柳城街道", "柳东社区", 0.005, -0.002),
    ("柳城街道", "美宇社区", -0.002, -0.005),
    ("美林街道", "洋美社区", 0.004, 0.003),
    ("省新镇", "满山红村", 0.008, 0.006),
    ("仑苍镇", "高山村", -0.006, 0.007),
    ("东田镇", "丰山村", 0.007, -0.004),
    ("英都镇", "良山村", -0.008, 0.005),
    ("金淘镇", "占石村", 0.006, 0.008),
    ("诗山镇", "社坛村", -0.005, -0.006),
    ("码头镇", "大庭村", 0.009, 0.004),
    ("梅山镇", "芙蓉村", -0.007, 0.006),
    ("洪濑镇", "西林村", 0.006, -0.007),
    ("洪濑镇", "葵星村", -0.008, 0.004),
    ("康美镇", "福铸村", 0.007, 0.005),
    ("丰州镇", "桃源村", -0.006, 0.006),
    ("霞美镇", "仙景村", 0.005, 0.007),
    ("官桥镇", "内厝村", -0.007, -0.005),
    ("水头镇", "朴里村", 0.006, 0.006),
    ("水头镇", "大盈村", -0.009, 0.003),
    ("石井镇", "奎霞村", 0.008, -0.004),
    ("九都镇", "金圭村", 0.005, 0.006),
    ("罗东镇", "振兴村", -0.004, 0.007),
]

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]

# Chinese public holidays (closed) and make-up working days (open), sample calendar.
HOLIDAYS = [
    ("2026-01-01", "元旦", True),
    ("2026-01-02", "元旦", True),
    ("2026-01-03", "元旦", True),
    *[(f"2026-02-{d:02d}", "春节", True) for d in range(15, 24)],
    ("2026-02-14", "春节调休上班", False),
    ("2026-02-28", "春节调休上班", False),
    ("2026-04-04", "清明节", True),
    ("2026-04-05", "清明节", True),
    ("2026-04-06", "清明节", True),
    *[(f"2026-05-{d:02d}", "劳动节", True) for d in range(1, 6)],
    ("2026-05-09", "劳动节调休上班", False),
    ("2026-06-19", "端午节", True),
    ("2026-06-20", "端午节", True),
    ("2026-06-21", "端午节", True),
    ("2026-09-25", "中秋节", True),
    ("2026-09-26", "中秋节", True),
    ("2026-09-27", "中秋节", True),
    *[(f"2026-10-{d:02d}", "国庆节", True) for d in range(1, 8)],
    ("2026-10-10", "国庆节调休上班", False),
    ("2027-01-01", "元旦", True),
    ("2027-01-02", "元旦", True),
    ("2027-01-03", "元旦", True),
]


def _levels() -> dict[str, list[str]]:
    by_level: dict[str, list[str]] = {"city": [], "town": [], "village": []}
    for path in sorted((GUIDES / "items").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for level in (data.get("where") or {}).get("levels") or []:
            by_level[level].append(data["code"])
    return by_level


def halls() -> dict[str, object]:
    items = _levels()
    out: list[dict[str, object]] = [
        {
            "code": "nanan-city-centre",
            "name": "南安市行政服务中心",
            "level": "city",
            "town": "柳城街道",
            "address": "南安市柳城街道南安大道888号（示例地址）",
            "lng": 118.3921,
            "lat": 24.9583,
            "datum": "GCJ-02",
            "phone": "0595-86390000",
            "hours": [
                {
                    "days": WEEKDAYS,
                    "sessions": [{"start": "08:00", "end": "12:00"}, {"start": "14:30", "end": "17:30"}],
                },
                {"days": ["sat"], "sessions": [{"start": "09:00", "end": "12:00"}]},
            ],
            "hours_note": "周六上午提供公安、社保、医保、不动产查询等“周末不打烊”服务；法定节假日休息",
            "items": sorted(set(items["city"]) | set(items["town"])),
        }
    ]
    for i, (town, _kind, lng, lat, roads, _) in enumerate(TOWNS, start=1):
        out.append(
            {
                "code": f"town-{i:02d}",
                "name": f"南安市{town}便民服务中心",
                "level": "town",
                "town": town,
                "address": f"南安市{town}{roads[0]}{20 + i}号（示例地址）",
                "lng": round(lng + 0.0012, 6),
                "lat": round(lat - 0.0008, 6),
                "datum": "GCJ-02",
                "phone": f"0595-86{i:02d}1234",
                "hours": [
                    {
                        "days": WEEKDAYS,
                        "sessions": [{"start": "08:00", "end": "12:00"}, {"start": "14:30", "end": "17:30"}],
                    }
                ],
                "hours_note": "工作日办理，中午12:00至14:30休息；周末和法定节假日休息",
                "items": sorted(items["town"]),
            }
        )
    for j, (town, community, de, dn) in enumerate(STATIONS, start=1):
        t = next(t for t in TOWNS if t[0] == town)
        weekend = j % 3 == 0
        hours: list[dict[str, object]] = [
            {"days": WEEKDAYS, "sessions": [{"start": "08:30", "end": "11:30"}, {"start": "15:00", "end": "17:30"}]}
        ]
        if weekend:
            hours.append({"days": ["sat"], "sessions": [{"start": "08:30", "end": "11:30"}]})
        out.append(
            {
                "code": f"station-{j:02d}",
                "name": f"{community}便民服务站",
                "level": "village",
                "town": town,
                "address": f"南安市{town}{community}党群服务中心一楼（示例地址）",
                "lng": round(t[2] + de, 6),
                "lat": round(t[3] + dn, 6),
                "datum": "GCJ-02",
                "phone": f"0595-86{j:02d}5678",
                "hours": hours,
                "hours_note": "网格员帮办代办；周六上午有人值班" if weekend else "网格员帮办代办；周末休息",
                "items": sorted(items["village"]) or ["elderly-allowance"],
            }
        )
    return {
        "datum": "GCJ-02",
        "halls": out,
        "holidays": [{"date": d, "name": n, "closed": c} for d, n, c in HOLIDAYS],
    }


def plates(count_per_town: int = 9) -> list[dict[str, object]]:
    rng = random.Random(20261122)
    rows = []
    for i, (town, _, lng, lat, roads, communities) in enumerate(TOWNS, start=1):
        for k in range(count_per_town):
            road = roads[k % len(roads)]
            no = rng.randint(1, 260)
            building = rng.choice(["", "", f"{rng.randint(1, 12)}幢", f"{rng.randint(1, 6)}号楼"])
            rows.append(
                {
                    "code": f"NA{i:02d}{k + 1:04d}",
                    "town": town,
                    "community": communities[k % len(communities)],
                    "address": f"南安市{town}{road}{no}号",
                    "building": building,
                    "lng": round(lng + rng.uniform(-0.012, 0.012), 6),
                    "lat": round(lat + rng.uniform(-0.010, 0.010), 6),
                }
            )
    return rows


def main() -> None:
    header = (
        "# 示例数据（sample data）：南安市政务服务中心、镇（街道）便民服务中心和村（社区）便民服务站。\n"
        "# 镇街名称真实，地址、电话、坐标为示例。坐标系 GCJ-02（高德/腾讯地图使用的国测局坐标）。\n"
        "# Generated by scripts/sample_data.py from the guides' where.levels; edit there and rerun.\n"
    )
    text = yaml.safe_dump(halls(), allow_unicode=True, sort_keys=False, width=120)
    (GUIDES / "halls.yaml").write_text(header + text, encoding="utf-8")
    rows = plates()
    with (GUIDES / "plates.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
