"""The ``portico`` command."""
