"""The authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2)."""
