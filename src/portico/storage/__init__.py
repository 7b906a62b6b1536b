"""Persistence: SQLAlchemy Core tables, the engine, migrations and repositories (SQL lives here)."""
