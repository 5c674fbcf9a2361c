-- Every foreign key whose two ends are user tables, read from pg_constraint (information_schema
-- hides foreign keys from a SELECT-only role). Clones that PostgreSQL makes on partitions
-- (conparentid <> 0) are skipped. A key declared on a partition only (conrelid is the partition,
-- conparentid = 0) is reported against the partition's root, because partitions are read
-- through their root, with the partition's name and leaf partitions: it constrains the rows of
-- those leaves only. Columns are paired by position in conkey/confkey. The catalog seedsnap
-- builds names them, never numbers them (attribute numbers differ between databases): the
-- numbers come back, and the client names them from the columns it has read (columns.sql)
-- when the key's table is one it reads. A partition's numbers can differ from its root's, so
-- the columns of a key declared on a partition, or referencing one, are named here, each by one
-- index probe of pg_attribute (naming every key's here was half the query's time on 1,000
-- tables; a join of all the table's attributes per key cost more).
-- The equality operators (referenced = referenced, by column) come back as numbers: the client
-- names the few that are not built in (equality_operators.sql).
-- The leaves are gathered for the keys declared on partitions only, in a CTE of their own: as a
-- LATERAL subquery per key (gated on relispartition) it cost 0.5 s on 1,000 tables even though
-- it never ran.
WITH partition_leaves AS (
    SELECT con.oid                                                             AS constraint_oid,
           pg_catalog.array_agg(l.oid::int8 ORDER BY ln.nspname, l.relname)    AS oids,
           pg_catalog.array_agg(ln.nspname::text ORDER BY ln.nspname, l.relname) AS schemas,
           pg_catalog.array_agg(l.relname::text ORDER BY ln.nspname, l.relname) AS names
      FROM pg_catalog.pg_constraint AS con
      JOIN pg_catalog.pg_class AS child ON child.oid = con.conrelid
     CROSS JOIN LATERAL pg_catalog.pg_partition_tree(child.oid) AS tree
      JOIN pg_catalog.pg_class AS l ON l.oid = tree.relid
      JOIN pg_catalog.pg_namespace AS ln ON ln.oid = l.relnamespace
     WHERE con.contype = 'f'
       AND con.conparentid = 0
       AND child.relispartition
       AND tree.isleaf
       AND l.relkind = 'r'
     GROUP BY con.oid
)
SELECT con.conname::text                                                   AS constraint_name,
       cn.nspname::text                                                    AS constraint_schema,
       CASE WHEN child.relispartition THEN pg_catalog.pg_partition_root(child.oid)
            ELSE child.oid END::int8                                       AS child_oid,
       CASE WHEN parent.relispartition THEN pg_catalog.pg_partition_root(parent.oid)
            ELSE parent.oid END::int8                                      AS parent_oid,
       CASE WHEN child.relispartition THEN
         ARRAY(SELECT (SELECT a.attname::text
                           FROM pg_catalog.pg_attribute AS a
                          WHERE a.attrelid = con.conrelid AND a.attnum = k.attnum)
                   FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                  ORDER BY k.ord)
       END                                                                 AS child_columns,
       con.conkey                                                          AS child_attnums,
       CASE WHEN parent.relispartition THEN
         ARRAY(SELECT (SELECT a.attname::text
                           FROM pg_catalog.pg_attribute AS a
                          WHERE a.attrelid = con.confrelid AND a.attnum = k.attnum)
                   FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                  ORDER BY k.ord)
       END                                                                 AS parent_columns,
       con.confkey                                                         AS parent_attnums,
       con.conppeqop::int8[]                                               AS equality_operators,
       con.condeferrable                                                   AS deferrable,
       con.confmatchtype = 'f'                                             AS match_full,
       con.convalidated                                                    AS validated,
       child.relispartition                                                AS on_partition,
       child_ns.nspname::text                                              AS partition_schema,
       child.relname::text                                                 AS partition_name,
       coalesce(leaves.oids, '{}')                                         AS leaf_oids,
       coalesce(leaves.schemas, '{}')                                      AS leaf_schemas,
       coalesce(leaves.names, '{}')                                        AS leaf_names
  FROM pg_catalog.pg_constraint AS con
  JOIN pg_catalog.pg_namespace AS cn ON cn.oid = con.connamespace
  JOIN pg_catalog.pg_class AS child ON child.oid = con.conrelid
  JOIN pg_catalog.pg_namespace AS child_ns ON child_ns.oid = child.relnamespace
  JOIN pg_catalog.pg_class AS parent ON parent.oid = con.confrelid
  LEFT JOIN partition_leaves AS leaves ON leaves.constraint_oid = con.oid
 WHERE con.contype = 'f'
   AND con.conparentid = 0
 ORDER BY 3, con.conname
