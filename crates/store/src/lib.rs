//! Store helpers: connections, migrations, filters over SQLite and PostgreSQL
