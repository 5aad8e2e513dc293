# One image, several commands (poller, worker, flower): see docker-compose.yml.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY workers ./workers
COPY config ./config
RUN pip install . flower \
 && useradd --create-home --uid 10001 newswire \
 && mkdir -p /data && chown newswire /data
USER newswire
ENV NEWSWIRE_DATA_DIR=/data NEWSWIRE_LOG_FORMAT=json
CMD ["newswire", "run"]
