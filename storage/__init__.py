"""PostgreSQL storage: the connection pool, migrations and queries."""
