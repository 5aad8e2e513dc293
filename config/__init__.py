"""Runtime configuration: settings (env / .env), logging, and the shipped feeds and topics files."""
