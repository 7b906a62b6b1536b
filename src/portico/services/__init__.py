"""The rules: what may be created, how credentials are checked, what is seeded."""
