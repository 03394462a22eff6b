"""Email magic links: single-use tokens sent through the outbox (discovery first)."""
