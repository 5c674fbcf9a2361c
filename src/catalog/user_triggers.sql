-- The user triggers that fire in an ordinary session (enabled 'O' for origin, or 'A' always)
-- on the given tables and their partitions, sub-partitions included. Internal triggers (the
-- ones enforcing foreign keys) are left out; so are disabled ('D') and replica-only ('R')
-- triggers, which do not fire. `may_disable`: the current role owns the relation (or is a
-- member of the owning role), which is what ALTER TABLE … DISABLE TRIGGER requires.
-- $1: int8[] of table oids.
SELECT n.nspname::text                                  AS schema_name,
       c.relname::text                                  AS table_name,
       tg.tgname::text                                  AS trigger_name,
       tg.tgenabled::text                               AS enabled,
       pg_catalog.pg_has_role(c.relowner, 'USAGE')      AS may_disable,
       pg_catalog.pg_get_userbyid(c.relowner)::text     AS owner
  FROM (SELECT r.oid
          FROM pg_catalog.unnest($1::pg_catalog.int8[]::pg_catalog.oid[]) AS r(oid)
        UNION
        SELECT tree.relid
          FROM pg_catalog.unnest($1::pg_catalog.int8[]::pg_catalog.oid[]) AS r(oid),
               pg_catalog.pg_partition_tree(r.oid) AS tree) AS rel
  JOIN pg_catalog.pg_class AS c ON c.oid = rel.oid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_trigger AS tg ON tg.tgrelid = c.oid
 WHERE NOT tg.tgisinternal
   AND tg.tgenabled IN ('O', 'A')
 ORDER BY 1, 2, 3
