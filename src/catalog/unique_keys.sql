-- Primary keys, unique constraints and bare unique indexes of the given tables. Partial and
-- expression indexes are reported (so callers can skip them) but their columns are not.
-- $1: int8[] of table oids.
SELECT i.indrelid::int8                                         AS table_oid,
       idx.relname::text                                        AS index_name,
       con.conname::text                                        AS constraint_name,
       i.indisprimary                                           AS is_primary,
       coalesce(con.condeferrable, false)                       AS deferrable,
       (i.indpred IS NOT NULL OR 0 = ANY (i.indkey::int2[]))    AS partial_or_expression,
       ARRAY(SELECT a.attname::text
               FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute AS a
                 ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE k.ord <= i.indnkeyatts
              ORDER BY k.ord)                                   AS column_names
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
