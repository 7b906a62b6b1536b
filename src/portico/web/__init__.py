"""Thin HTTP layer: routes parse requests and render responses; the rules live below."""

import sys

# httpx imports its command-line tool (click, rich, pygments: ~10 MB of every server process
# and 80 ms of start-up) whenever those packages happen to be installed, as they are beside
# test tools; the server never runs it. A None entry makes that optional import fail, which
# httpx handles. Set before anything here imports httpx.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
