"""Offline demo: a small static feed server and demo feeds written for newswire."""
