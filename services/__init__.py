"""newswire: event-driven news ingestion (feeds in, classified events out on Redis Streams)."""
