# One image for every SpeedTrade process (web, worker, beat, feed); the command differs.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 speedtrade

WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install -r requirements.txt -c constraints.txt

COPY --chown=speedtrade:speedtrade . .
# collectstatic needs settings that load without real services or secrets.
RUN SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEYS=Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLXJlYWwta2V5 \
    SPEEDTRADE_ENV=production python manage.py collectstatic --noinput \
    && mkdir -p /var/lib/speedtrade/private && chown speedtrade:speedtrade /var/lib/speedtrade/private

USER speedtrade
ENV SPEEDTRADE_ENV=production \
    PRIVATE_MEDIA_ROOT=/var/lib/speedtrade/private
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8000/health || exit 1
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
