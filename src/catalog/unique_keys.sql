-- Primary keys, unique constraints and bare unique indexes of the given tables. Partial and
-- expression indexes are reported and marked, for callers to skip (an expression's attribute
-- number is 0). The key columns come as attribute numbers, in key order, which the client names from the
-- columns it has read (columns.sql): naming them here, a subquery per index, doubled the
-- query's time on 1,000 tables. NULLS NOT DISTINCT (PostgreSQL 15+, pg_index.indnullsnotdistinct)
-- is read through the row's JSON form, which has the field only where the server has it, so
-- that one query text serves every server (false before 15, where NULLs are always distinct).
-- $1: int8[] of table oids.
SELECT i.indrelid::int8                                         AS table_oid,
       idx.relname::text                                        AS index_name,
       con.conname::text                                        AS constraint_name,
       i.indisprimary                                           AS is_primary,
       coalesce(con.condeferrable, false)                       AS deferrable,
       (i.indpred IS NOT NULL OR 0 = ANY (i.indkey::int2[]))    AS partial_or_expression,
       (i.indkey::int2[])[0:i.indnkeyatts - 1]                  AS column_attnums,
       coalesce((pg_catalog.to_jsonb(i) ->> 'indnullsnotdistinct')::bool, false)
                                                                AS nulls_not_distinct
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
