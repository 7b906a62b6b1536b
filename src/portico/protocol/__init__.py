"""OAuth 2.0 / OpenID Connect engine, organised by specification. No web-framework imports:
endpoints take parsed parameters and return data; ``portico.web`` turns them into HTTP."""
