"""Each project's allow-list of redirect URLs, by type: a magic link only ever points at one."""
