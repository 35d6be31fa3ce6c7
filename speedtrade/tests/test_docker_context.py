"""The image's build context (what `COPY . .` can see), computed from .dockerignore the way Docker computes it.

docker-py's `exclude_paths` implements Docker's matching (Go's filepath.Match plus `**`, exceptions with `!`,
the last matching rule wins). The tree is the checkout's tracked files plus what a working copy also holds:
secrets, virtualenvs, KYC documents, databases. None of those may reach an image layer.
"""

import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from docker.utils.build import exclude_paths

ROOT = Path(settings.BASE_DIR)
LOCAL_ONLY = [
    ".env",  # SECRET_KEY, FIELD_ENCRYPTION_KEYS, venue keys
    ".env.production",
    ".venv/bin/python",
    ".venv/lib/python3.11/site-packages/django/__init__.py",
    "var/private/kyc/4f1c/passport.pdf",  # customers' KYC documents
    "var/mail/20260101-000000.log",
    "db.sqlite3",
    "db.sqlite3-wal",
    "node_modules/htmx.org/package.json",
    "test-artifacts/e2e-server.log",
    "local.mk",
    "deploy/certs/privkey.pem",
    ".git/config",
    "staticfiles/staticfiles.json",
    "speedtrade/__pycache__/settings.cpython-311.pyc",
    ".pytest_cache/README.md",
]
NEEDED = [
    "manage.py",
    "Dockerfile",
    "requirements.txt",
    "constraints.txt",
    "speedtrade/settings.py",
    "speedtrade/asgi.py",
    "accounts/migrations/0001_initial.py",
    "templates/base.html",
    "static/vendor/htmx/htmx.min.js",
    "deploy/nginx/templates/default.conf.template",
    ".env.example",
]


def dockerignore_rules() -> list[str]:
    """.dockerignore as the Docker client reads it: one rule a line, blank lines and # comments skipped."""
    lines = (line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture
def working_copy(tmp_path) -> Path:
    """The tracked files (empty) and the local-only ones, in a tree of their own."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    ).stdout.splitlines()
    for name in [*tracked, *LOCAL_ONLY]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return tmp_path


def build_context(root: Path) -> set[str]:
    return {path for path in exclude_paths(str(root), dockerignore_rules()) if (root / path).is_file()}


def test_no_secret_or_local_state_is_in_the_build_context(working_copy):
    context = build_context(working_copy)
    leaked = [name for name in LOCAL_ONLY if name in context]
    assert leaked == []
    assert not [name for name in context if name.startswith(("var/", ".venv/", ".git/", "node_modules/"))]


def test_everything_the_image_runs_is_in_the_build_context(working_copy):
    context = build_context(working_copy)
    assert [name for name in NEEDED if name not in context] == []
    tracked_code = {
        name
        for name in (p.relative_to(working_copy).as_posix() for p in working_copy.rglob("*") if p.is_file())
        if name not in LOCAL_ONLY and (name.endswith((".py", ".html", ".js", ".css")) or name.startswith("static/"))
    }
    assert tracked_code - context == set()
