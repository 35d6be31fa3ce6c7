# syntax=docker/dockerfile:1
# One image for every SpeedTrade process (web, worker, beat, feed, engine, broker-streams); the command differs.
# .dockerignore keeps .env, .venv, var/ (KYC documents), db.sqlite3 and other local files out of the context.

# --- build: wheels for every pinned requirement (compilers and headers stay in this stage) ---------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt constraints.txt ./
RUN pip wheel --wheel-dir /wheels -r requirements.txt -c constraints.txt

# --- runtime: the slim image, the wheels installed (not kept), the application -------------------------
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# curl: the web healthcheck; libpq5: psycopg's runtime library; Pango, HarfBuzz and a font: WeasyPrint's
# PDF rendering of account documents.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 curl libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 speedtrade

WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels -r requirements.txt -c constraints.txt

COPY --chown=speedtrade:speedtrade . .
# collectstatic needs settings that load without real services or secrets.
RUN SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEYS=Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLXJlYWwta2V5 \
    SPEEDTRADE_ENV=production python manage.py collectstatic --noinput \
    && mkdir -p /var/lib/speedtrade/private && chown speedtrade:speedtrade /var/lib/speedtrade/private

USER speedtrade
ENV SPEEDTRADE_ENV=production \
    PRIVATE_MEDIA_ROOT=/var/lib/speedtrade/private
EXPOSE 8000
# /health answers whatever the Host header (ALLOWED_HOSTS need not list 127.0.0.1).
HEALTHCHECK --interval=15s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8000/health || exit 1
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
