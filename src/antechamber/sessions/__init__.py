"""Intermediate sessions (proved an email, not yet in an organization) and member sessions."""
