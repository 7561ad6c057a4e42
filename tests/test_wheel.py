"""A built (non-editable) wheel carries everything the packages need at run time.

Every file under knowledge/ and web/ — code, templates, static files, migrations and their
template — must be in the wheel: a missing package-data pattern fails here, not in production.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("knowledge", "web")


def _source_files() -> set[str]:
    out = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                out.add(path.relative_to(ROOT).as_posix())
    return out


def test_the_built_wheel_is_complete(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy: building in the clone would leave build/ and egg-info behind
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(src),
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheels = list(tmp_path.glob("menpai-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "menpai = web.cli:main" in wheel.read(entry_points).decode()
    sources = _source_files()
    assert {"web/templates/_answer.html", "web/static/chat.js"} <= sources
    missing = sorted(sources - names)
    assert not missing, f"not in the wheel: {missing[:20]}"
