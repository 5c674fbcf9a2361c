-- Every ordinary and partitioned table of the user schemas, partitions excluded (they are read
-- through their partitioned parent). Views, materialized views, foreign tables, system schemas
-- and tables that belong to an extension are left out.
-- $1: text[] of schema names to keep; an empty array keeps every user schema.
SELECT c.oid::int8                                  AS oid,
       n.nspname::text                              AS schema_name,
       c.relname::text                              AS table_name,
       c.relkind::text                              AS relkind,
       c.relhasrules                                AS has_rules,
       EXISTS (SELECT 1
                 FROM pg_catalog.pg_trigger AS tg
                WHERE NOT tg.tgisinternal
                  AND tg.tgrelid = c.oid)
       OR (c.relkind = 'p'
           AND EXISTS (SELECT 1
                         FROM pg_catalog.pg_partition_tree(c.oid) AS tree
                         JOIN pg_catalog.pg_trigger AS tg ON tg.tgrelid = tree.relid
                        WHERE NOT tg.tgisinternal))             AS has_triggers,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT coalesce(sum(greatest(leaf.reltuples, 0)), 0)::int8
                 FROM pg_catalog.pg_partition_tree(c.oid) AS tree
                 JOIN pg_catalog.pg_class AS leaf ON leaf.oid = tree.relid
                WHERE tree.isleaf)
            ELSE greatest(c.reltuples, 0)::int8
       END                                          AS estimated_rows
  FROM pg_catalog.pg_class AS c
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   AND NOT EXISTS (SELECT 1
                     FROM pg_catalog.pg_depend AS d
                    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                      AND d.objid = c.oid
                      AND d.deptype = 'e')
   AND (cardinality($1::text[]) = 0 OR n.nspname = ANY ($1::text[]))
 ORDER BY n.nspname, c.relname
