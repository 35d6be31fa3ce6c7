"""Results: the table printed at the end, and JSON + Markdown files under bench/results/."""

import json
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def ratio(result, ceiling) -> str:
    if not isinstance(result, (int, float)) or not isinstance(ceiling, (int, float)) or not ceiling:
        return "—"
    return f"{result / ceiling:.2f}"


def answers(summary: dict) -> str:
    """How a load step was answered: accepted (done), shed (503 before any work: may be retried) and errors, each
    as a share of what was sent; a shed request is neither a success nor a failure to do what was answered."""
    return (
        f"accepted {fmt(summary['accepted_pct'])} %, shed (503) {fmt(summary['shed_pct'])} %, "
        f"errors {fmt(summary['errors_pct'])} % of {fmt(summary['sent'])}"
    )


def table(rows: list[dict]) -> str:
    header = ["measurement", "target", "result", "ceiling", "ratio", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [
            row["name"],
            row["target"],
            fmt(row.get("result")),
            fmt(row.get("ceiling")),
            ratio(row.get("result"), row.get("ceiling")) if row.get("ceiling") is not None else "—",
            {True: "yes", False: "**no**", None: "—"}[row.get("met")],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(data: dict, rows: list[dict], *, name: str, out_dir: Path = RESULTS) -> tuple[Path, Path]:
    """`name` is the run's kind: latest (full), quick or smoke."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    json_path = out_dir / f"{name}.json"
    md_path = out_dir / f"{name}.md"
    data = {**data, "table": rows, "finished_at": stamp}
    json_path.write_text(json.dumps(data, indent=2, default=str))
    load = data["machine"]
    md = [
        f"# SpeedTrade benchmark results ({'full' if name == 'latest' else name} run, {stamp})",
        "",
        f"Machine: {load['cpus']} CPUs, load average before the run {load['before']['loadavg_1m']:.2f} / "
        f"after {load['after']['loadavg_1m']:.2f} (1 min). Other sessions share this machine: absolute numbers are "
        "depressed; the ratio to the ceiling measured in the same run is the honest figure.",
        *(
            [f"Web server: {data['server']} with {data.get('web_workers')} workers.", ""]
            if data.get("server")
            else [""]
        ),
        table(rows),
        "",
        f"Raw numbers: `{name}.json` next to this file (same run).",
    ]
    for section in data.get("notes", []):
        md += ["", section]
    md_path.write_text("\n".join(md) + "\n")
    return json_path, md_path
