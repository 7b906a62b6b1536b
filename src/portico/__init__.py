"""Portico: a self-hosted, Logto-compatible identity and access platform."""

__version__ = "0.1.0"
