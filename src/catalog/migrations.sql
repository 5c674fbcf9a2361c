-- Migration tools' bookkeeping tables, and the version each one says the schema is at.
-- The first statement finds the tables by name in every user schema; each "-- tool:" section
-- after it reads one tool's table ({table} is its quoted, schema-qualified name) and returns
-- (the latest applied migration as text, the number applied), or no row when none is applied.

SELECT n.nspname::pg_catalog.text, c.relname::pg_catalog.text,
       EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = c.oid AND a.attname = 'dirty' AND NOT a.attisdropped)
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v')
   AND c.relname IN ('schema_migrations', 'alembic_version', 'django_migrations',
                     'flyway_schema_history', 'databasechangelog', '_sqlx_migrations',
                     'refinery_schema_history')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
 ORDER BY 2, 1

-- tool: rails
SELECT version::pg_catalog.text, pg_catalog.count(*) OVER ()
  FROM {table}
 ORDER BY pg_catalog.substring(version::pg_catalog.text, '^[0-9]+')::pg_catalog.numeric DESC NULLS LAST,
          version::pg_catalog.text DESC
 LIMIT 1

-- tool: golang-migrate
-- One row, its version; if a load added another, the latest is what the rows now claim.
SELECT version::pg_catalog.text || CASE WHEN dirty THEN ' (dirty)' ELSE '' END, 1::pg_catalog.int8
  FROM {table}
 ORDER BY version DESC
 LIMIT 1

-- tool: alembic
SELECT pg_catalog.string_agg(version_num::pg_catalog.text, ',' ORDER BY version_num),
       pg_catalog.count(*)
  FROM {table}
HAVING pg_catalog.count(*) > 0

-- tool: django
SELECT app::pg_catalog.text || '.' || name::pg_catalog.text, pg_catalog.count(*) OVER ()
  FROM {table}
 ORDER BY applied DESC, id DESC
 LIMIT 1

-- tool: flyway
SELECT coalesce(version::pg_catalog.text, description::pg_catalog.text),
       pg_catalog.count(*) OVER ()
  FROM {table}
 WHERE success
 ORDER BY installed_rank DESC
 LIMIT 1

-- tool: liquibase
SELECT id::pg_catalog.text, pg_catalog.count(*) OVER ()
  FROM {table}
 ORDER BY orderexecuted DESC
 LIMIT 1

-- tool: sqlx
SELECT version::pg_catalog.text, pg_catalog.count(*) OVER ()
  FROM {table}
 WHERE success
 ORDER BY version DESC
 LIMIT 1

-- tool: refinery
SELECT version::pg_catalog.text, pg_catalog.count(*) OVER ()
  FROM {table}
 ORDER BY version DESC
 LIMIT 1
