"""Adapters: the I/O edges of newswire (HTTP fetching, Redis, Celery)."""
