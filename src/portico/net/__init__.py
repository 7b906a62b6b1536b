"""Portico's own network traffic to the outside world.

Every outgoing HTTP request the server makes on behalf of a configuration an admin typed (a
connector's provider URL today; webhooks, JWKS URIs and logout notifications later) goes
through :mod:`portico.net.outbound`, so that one setting decides which internal addresses may
be called.
"""
