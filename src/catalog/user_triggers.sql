-- The enabled user triggers on the given tables and their partitions, sub-partitions included:
-- enabled 'O' (fires in an ordinary, origin session), 'A' (always) or 'R' (replica: fires only
-- in a session with session_replication_role = replica, which the import's fast path uses).
-- Internal triggers (the ones enforcing foreign keys) are left out, and so are disabled ('D')
-- ones, which never fire. `may_disable`: the current role owns the relation (or is a member of
-- the owning role), which is what ALTER TABLE … DISABLE TRIGGER requires. `root_oid`: the given
-- table the relation is, or is a partition of.
-- $1: int8[] of table oids.
SELECT n.nspname::text                                  AS schema_name,
       c.relname::text                                  AS table_name,
       tg.tgname::text                                  AS trigger_name,
       tg.tgenabled::text                               AS enabled,
       pg_catalog.pg_has_role(c.relowner, 'USAGE')      AS may_disable,
       pg_catalog.pg_get_userbyid(c.relowner)::text     AS owner,
       rel.root::int8                                   AS root_oid
  FROM (SELECT r.oid, r.oid AS root
          FROM pg_catalog.unnest($1::pg_catalog.int8[]::pg_catalog.oid[]) AS r(oid)
        UNION
        SELECT tree.relid, r.oid
          FROM pg_catalog.unnest($1::pg_catalog.int8[]::pg_catalog.oid[]) AS r(oid),
               pg_catalog.pg_partition_tree(r.oid) AS tree) AS rel
  JOIN pg_catalog.pg_class AS c ON c.oid = rel.oid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_trigger AS tg ON tg.tgrelid = c.oid
 WHERE NOT tg.tgisinternal
   AND tg.tgenabled IN ('O', 'A', 'R')
 ORDER BY 1, 2, 3
