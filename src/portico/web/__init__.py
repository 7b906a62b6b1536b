"""Thin HTTP layer: routes parse requests and render responses; the rules live below."""
