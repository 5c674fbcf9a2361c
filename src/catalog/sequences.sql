-- The sequences that feed columns of the given tables: identity and serial sequences (owned by
-- the column) and any sequence a column default calls, owned or not, shared or not.
-- $1: int8[] of table oids.
SELECT dep.refobjid::int8                       AS table_oid,
       a.attname::text                          AS column_name,
       seq.oid::regclass::text                  AS sequence_name
  FROM pg_catalog.pg_depend AS dep
  JOIN pg_catalog.pg_class AS seq ON seq.oid = dep.objid AND seq.relkind = 'S'
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
 WHERE dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
   AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
   AND dep.deptype IN ('a', 'i')
   AND dep.refobjsubid > 0
   AND dep.refobjid = ANY ($1::int8[]::oid[])
UNION
SELECT ad.adrelid::int8,
       a.attname::text,
       seq.oid::regclass::text
  FROM pg_catalog.pg_attrdef AS ad
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
  JOIN pg_catalog.pg_depend AS dep
    ON dep.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
   AND dep.objid = ad.oid
   AND dep.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
  JOIN pg_catalog.pg_class AS seq ON seq.oid = dep.refobjid AND seq.relkind = 'S'
 WHERE ad.adrelid = ANY ($1::int8[]::oid[])
 ORDER BY 1, 2, 3
