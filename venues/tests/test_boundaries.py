"""venues/ is client code only: it imports no Django app, so marketdata and trading can both use it
without depending on each other through it."""

import ast
from pathlib import Path

from django.apps import apps

VENUES = Path(__file__).resolve().parents[1]


def imported_top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_the_venue_clients_import_no_django_app():
    app_packages = {config.name.partition(".")[0] for config in apps.get_app_configs()} - {"django"}
    imports = {
        path.name: sorted(imported_top_level_names(path) & app_packages)
        for path in VENUES.glob("*.py")  # the package, not its tests
    }
    assert {name: found for name, found in imports.items() if found} == {}
