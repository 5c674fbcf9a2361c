-- What masking needs to know about the given columns, with domains resolved to their base
-- type: the base type, its category ('S' for strings), the length limit of varchar(n) and
-- char(n) (from the column or from a domain), whether a domain adds CHECK constraints, and
-- whether a unique index on lower(column) or upper(column) keeps its values distinct regardless
-- of case (masked values must then differ in more than case).
-- $1: int8[] of table oids, $2: text[] of column names (pairwise).
WITH RECURSIVE wanted AS (
    SELECT w.table_oid, w.column_name
      FROM unnest($1::int8[], $2::text[]) AS w(table_oid, column_name)
), chain AS (
    SELECT a.attrelid::int8 AS table_oid, a.attname::text AS column_name,
           a.atttypid AS type_oid, a.atttypmod AS typmod, 0 AS depth
      FROM wanted AS w
      JOIN pg_catalog.pg_attribute AS a
        ON a.attrelid = w.table_oid::oid AND a.attname = w.column_name
     WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT c.table_oid, c.column_name, t.typbasetype,
           CASE WHEN t.typtypmod >= 0 THEN t.typtypmod ELSE c.typmod END, c.depth + 1
      FROM chain AS c
      JOIN pg_catalog.pg_type AS t ON t.oid = c.type_oid
     WHERE t.typtype = 'd'
)
SELECT DISTINCT ON (c.table_oid, c.column_name)
       c.table_oid,
       c.column_name,
       t.typname::text                                               AS base_type,
       t.typcategory::text                                           AS category,
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND c.typmod >= 4
            THEN c.typmod - 4 END                                    AS max_chars,
       EXISTS (SELECT 1
                 FROM chain AS d
                 JOIN pg_catalog.pg_constraint AS k ON k.contypid = d.type_oid
                WHERE d.table_oid = c.table_oid AND d.column_name = c.column_name
                  AND k.contype = 'c')                               AS domain_checks,
       EXISTS (SELECT 1
                 FROM pg_catalog.pg_index AS i
                WHERE i.indrelid = c.table_oid::oid
                  AND i.indisunique
                  AND i.indnatts = 1
                  AND i.indexprs IS NOT NULL
                  AND pg_catalog.pg_get_indexdef(i.indexrelid, 1, false)
                      IN (format('lower(%s)', pg_catalog.quote_ident(c.column_name)),
                          format('upper(%s)', pg_catalog.quote_ident(c.column_name)),
                          format('lower((%s)::text)', pg_catalog.quote_ident(c.column_name)),
                          format('upper((%s)::text)', pg_catalog.quote_ident(c.column_name))))
                                                                     AS case_blind_unique
  FROM chain AS c
  JOIN pg_catalog.pg_type AS t ON t.oid = c.type_oid
 ORDER BY c.table_oid, c.column_name, c.depth DESC
