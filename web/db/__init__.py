"""Runtime state in SQL: tables, the engine, one repository per aggregate, Alembic migrations."""
