-- The live columns of the given tables, in table order then column order.
-- $1: int8[] of table oids.
SELECT a.attrelid::int8                                        AS table_oid,
       a.attname::text                                         AS column_name,
       pg_catalog.format_type(a.atttypid, a.atttypmod)         AS type_name,
       pg_catalog.format_type(a.atttypid, NULL)                AS base_type,
       a.attnotnull                                            AS not_null,
       a.attgenerated <> ''                                    AS generated,
       a.attidentity::text                                     AS identity,
       a.atthasdef                                             AS has_default
  FROM pg_catalog.pg_attribute AS a
 WHERE a.attrelid = ANY ($1::int8[]::oid[])
   AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum
