"""Operators: the people who run this server, and their console sessions.

Operators are members of one organization (slug `operators`, MFA REQUIRED_FOR_ALL) in an
internal project that has no API secrets, so they sign in through Antechamber's own flows.
`antechamber operators add EMAIL` creates both on first use.
"""
