"""Rounding happens in `speedtrade/money.py` only (ruff's banned-api catches the ROUND_ constants;
this also catches a bare `.quantize(` that would round half-even by the context's default)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {ROOT / "speedtrade" / "money.py", Path(__file__).resolve()}
SKIPPED = {".venv", "node_modules", ".git", "var"}
ROUNDING = re.compile(r"\.quantize\(|\.to_integral(?:_value|_exact)?\(|\bROUND_[A-Z_0-9]+\b")


def python_sources():
    for path in ROOT.rglob("*.py"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIPPED or path in ALLOWED:
            continue
        yield path


def test_no_module_but_speedtrade_money_rounds_a_decimal():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in python_sources()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if ROUNDING.search(line)
    ]
    assert found == [], "Round with speedtrade.money instead:\n" + "\n".join(found)
