"""Quick schema check for guide files while writing them (system python is enough).

Usage: python3 scripts/check_one_guide.py guides/items/a.yaml [more.yaml ...]
The full validator with cross-references is `menpai guides check`.
"""

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from knowledge.schema import Guide

bad = 0
for name in sys.argv[1:]:
    try:
        g = Guide.model_validate(yaml.safe_load(Path(name).read_text(encoding="utf-8")))
        if Path(name).stem != g.code:
            raise ValueError(f"file name must be {g.code}.yaml")
        print(f"ok   {name}: {len(g.situations)} situations, {len(g.asks)} asks, {len(g.faqs)} faqs")
    except Exception as exc:  # report and keep going
        bad += 1
        print(f"FAIL {name}: {exc}")
sys.exit(1 if bad else 0)
