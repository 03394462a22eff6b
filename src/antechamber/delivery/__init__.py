"""Delivery of email and SMS through a transactional outbox."""
