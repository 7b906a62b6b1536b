"""Custom token claims (Logto's JWT customizer): an administrator's JavaScript
``getCustomJwtClaims({token, context, environmentVariables, api})`` adds claims to access
tokens.

- ``config``: the two customizers (``jwt.accessToken``, ``jwt.clientCredentials``) as Logto
  keeps them in ``logto_configs``, environment variables sealed at rest;
- ``sandbox`` (+ ``sandbox_child``): where scripts run: a fresh V8 isolate per call in a
  helper process, with a time and a memory limit and nothing but ECMAScript;
- ``context``: what a script is told about the user and the application;
- ``runner``: one run, its failure kinds mapped to Logto's errors.

The token endpoint's side is ``protocol/custom_claims.py``; the routes
``web/api/jwt_customizer.py``.
"""
