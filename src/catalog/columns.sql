-- The live columns of the given tables, in table order then column order. The base type is
-- printed with typmod -1, not NULL: `format_type(bpchar, NULL)` is `character`, which SQL reads
-- as char(1) and a cast to it truncates; with -1 it is `bpchar` (and `"bit"` for bit), which
-- casts without truncating. The collation (qualified, quoted) is NULL for a type without one;
-- it is joined, not looked up per column (a subquery per column was a third of the query on
-- 1,000 tables). The attribute number lets the client name the columns of keys, which the key
-- queries return as numbers (see unique_keys.sql). Whether the type is an enum (one with
-- labels) tells the export that a key's equal values print as one label (see key_text.rs):
-- asked of pg_enum, a hashed subquery; a join of pg_type, which holds a row type and an array
-- type per table, cost 15-20 ms on 3,000 tables (the query took twice as long).
-- A domain's column also names the domain's base type, domains stripped (typmod -1): a key
-- compares a child's value with a domain's under the base type's equality, so that is the type
-- it is cast to (a cast to the domain runs its CHECK and NOT NULL, which the server's check
-- never does). The domains are few: walked once, hash-joined.
-- $1: int8[] of table oids.
WITH RECURSIVE domains (oid, base, depth) AS (
    SELECT t.oid, t.typbasetype, 1
      FROM pg_catalog.pg_type AS t
     WHERE t.typtype = 'd'
  UNION ALL
    SELECT d.oid, b.typbasetype, d.depth + 1
      FROM domains AS d
      JOIN pg_catalog.pg_type AS b ON b.oid = d.base
     WHERE b.typtype = 'd'
), domain_bases AS (
    SELECT DISTINCT ON (d.oid) d.oid, d.base
      FROM domains AS d
     ORDER BY d.oid, d.depth DESC
)
SELECT a.attrelid::int8                                        AS table_oid,
       a.attnum                                                AS attnum,
       a.attname::text                                         AS column_name,
       pg_catalog.format_type(a.atttypid, a.atttypmod)         AS type_name,
       pg_catalog.format_type(a.atttypid, -1)                  AS base_type,
       CASE WHEN db.base IS NOT NULL
            THEN pg_catalog.format_type(db.base, -1) END       AS domain_base,
       a.attnotnull                                            AS not_null,
       a.attgenerated <> ''                                    AS generated,
       a.attidentity::text                                     AS identity,
       a.atthasdef                                             AS has_default,
       a.atttypid IN (SELECT e.enumtypid FROM pg_catalog.pg_enum AS e) AS is_enum,
       pg_catalog.quote_ident(cn.nspname) || '.'
         || pg_catalog.quote_ident(co.collname)                AS collation
  FROM pg_catalog.pg_attribute AS a
  LEFT JOIN pg_catalog.pg_collation AS co ON co.oid = a.attcollation
  LEFT JOIN pg_catalog.pg_namespace AS cn ON cn.oid = co.collnamespace
  LEFT JOIN domain_bases AS db ON db.oid = a.atttypid
 WHERE a.attrelid = ANY ($1::int8[]::oid[])
   AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum
