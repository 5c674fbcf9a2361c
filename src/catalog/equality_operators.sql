-- The names of the given operators, to be written as `OPERATOR(schema.name)`: the equality
-- operators of foreign keys between columns of a type that is not built in (citext, a domain
-- over it). An empty search_path (see the pinned session settings) finds a built-in type's
-- own `=`, but an extension's `=` only by its schema: without it, `citext = citext` resolves
-- to `text = text`, which tells case. Only operators that are not built in are asked for.
-- $1: int8[] of operator oids.
SELECT o.oid::int8                                                        AS operator_oid,
       'OPERATOR(' || pg_catalog.quote_ident(n.nspname) || '.' || o.oprname || ')'
                                                                          AS operator_sql
  FROM pg_catalog.pg_operator AS o
  JOIN pg_catalog.pg_namespace AS n ON n.oid = o.oprnamespace
 WHERE o.oid = ANY ($1::int8[]::oid[])
