"""The feed poller: schedule, fetch, parse, normalise, enqueue."""
