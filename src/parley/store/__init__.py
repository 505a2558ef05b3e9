"""Persistence: SQLAlchemy Core tables and queries that run on SQLite and PostgreSQL."""
