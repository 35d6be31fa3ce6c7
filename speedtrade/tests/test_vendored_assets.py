"""The app works offline: front-end libraries are vendored at the pinned versions, with their licences,
and no template loads anything from another host."""

import json
import re

from django.conf import settings

VENDOR = settings.BASE_DIR / "static" / "vendor"
PINS = json.loads((settings.BASE_DIR / "package.json").read_text())["dependencies"]


def test_vendored_copies_are_the_pinned_versions_with_their_licences():
    for package, directory in (("htmx.org", "htmx"), ("lightweight-charts", "lightweight-charts")):
        vendored = json.loads((VENDOR / directory / "package.json").read_text())
        assert vendored["version"] == PINS[package], package
        assert (VENDOR / directory / "LICENSE").stat().st_size > 0
    assert re.fullmatch(r"\d+\.\d+\.\d+", PINS["htmx.org"]) and PINS["htmx.org"].startswith("2.")


def test_no_template_loads_scripts_or_styles_from_another_host():
    external = re.compile(r"""<(script|link)[^>]+(src|href)=["'](https?:)?//""", re.IGNORECASE)
    offenders = [
        str(path.relative_to(settings.BASE_DIR))
        for path in (settings.BASE_DIR / "templates").rglob("*.html")
        if external.search(path.read_text())
    ]
    assert offenders == []
