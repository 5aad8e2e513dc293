"""The pure core: one module per pipeline stage. Imports no redis, celery, HTTP client or config."""
