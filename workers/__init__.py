"""Celery adapter: the app and thin tasks around services.pipeline."""
