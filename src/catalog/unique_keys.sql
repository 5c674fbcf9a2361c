-- Primary keys, unique constraints and bare unique indexes of the given tables. Partial and
-- expression indexes are reported and marked, for callers to skip (an expression's attribute
-- number is 0). The key columns come as attribute numbers, in key order, which the client names from the
-- columns it has read (columns.sql): naming them here, a subquery per index, doubled the
-- query's time on 1,000 tables. NULLS NOT DISTINCT is pg_index.indnullsnotdistinct, which
-- PostgreSQL 15 added: for an older server the client replaces it with false (NULLs are always
-- distinct there). Reading it through the row's JSON form instead, which works on every
-- server, cost 10 us an index: 20 ms on 1,000 tables with two unique indexes each.
-- The operator classes, by key column, tell the key's equality (opclass_equality.sql, asked
-- only for classes that are not built in).
-- $1: int8[] of table oids.
SELECT i.indrelid::int8                                         AS table_oid,
       idx.relname::text                                        AS index_name,
       con.conname::text                                        AS constraint_name,
       i.indisprimary                                           AS is_primary,
       coalesce(con.condeferrable, false)                       AS deferrable,
       (i.indpred IS NOT NULL OR 0 = ANY (i.indkey::int2[]))    AS partial_or_expression,
       (i.indkey::int2[])[0:i.indnkeyatts - 1]                  AS column_attnums,
       (i.indclass::oid[])[0:i.indnkeyatts - 1]::int8[]         AS opclasses,
       i.indnullsnotdistinct                                    AS nulls_not_distinct
  FROM pg_catalog.pg_index AS i
  JOIN pg_catalog.pg_class AS idx ON idx.oid = i.indexrelid
  LEFT JOIN pg_catalog.pg_constraint AS con
         ON con.conindid = i.indexrelid
        AND con.conrelid = i.indrelid
        AND con.contype IN ('p', 'u')
 WHERE i.indisunique
   AND i.indisvalid
   AND i.indrelid = ANY ($1::int8[]::oid[])
 ORDER BY i.indrelid, i.indisprimary DESC, idx.relname
