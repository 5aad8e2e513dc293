"""The pure core: one module per pipeline stage. Imports no redis, celery, httpx or config."""
