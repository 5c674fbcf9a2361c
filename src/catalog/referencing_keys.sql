-- Foreign keys whose update action matters to a drift repair, read from pg_constraint (every
-- schema: a referencing table may live outside the snapshot's); columns named by position in
-- conkey/confkey. A key may reference a partition of a snapshot's partitioned table rather
-- than the table itself: parent_oids is the referenced table and every partitioned table it
-- is a partition of (pg_partition_ancestors reads pg_inherits), so that the caller matches
-- the key with the repaired table either way. child_oids is likewise the referencing table
-- and every partitioned table it is a partition of: a key declared on a partition rewrites
-- rows that keys to its partitioned table reference.
-- With $1 NULL: every key (not a clone of a partitioned table's key: the key itself covers
-- the clones' rows) with an ON UPDATE action that rewrites the rows referencing its
-- table (CASCADE, SET NULL, SET DEFAULT): a repair that changes a referenced value would
-- change those rows too, and through them the rows referencing theirs (the caller follows
-- the chains from the repaired table).
-- With $1 a constraint's name: that key of table $2.$3 (any action), which refused a repair
-- (NO ACTION, RESTRICT), for the caller to name the rows that still reference the old value:
-- a clone too (the server names the clone on the partition whose row was updated), named as
-- the key it was cloned from, which is the one declared.
-- The key's equality of a referenced value with a referencing one (conpfeqop), by column, as
-- SQL: `=` for a built-in operator (oid below 16384, found whatever the search path), the
-- operator with its schema for an extension's (`citext = citext` off the role's search_path
-- would resolve to `text = text`, which tells case).
-- The type a referencing value is cast to before that comparison, by column, as the server's
-- own check casts it: the operator's right input type when the referencing column is of
-- another type (a `text` child of a `character(3)` parent is compared as `bpchar`, which
-- ignores trailing blanks, where `bpchar = text` would resolve to `text = text`); '' when the
-- types are one, or the operator takes a pseudo-type (an enum's, an array's), which the
-- column's own type already is. Never a domain: an operator's input type is a base type.
-- Named by schema and catalog name without a modifier (`pg_catalog.bpchar`: `character`
-- would be `character(1)`, which cuts the value), whatever the search path.
-- The referencing table comes as SQL (ONLY for a plain table, as the key's triggers see its
-- rows) and as text, with its primary key's columns to name rows.
SELECT coalesce((WITH RECURSIVE up (parent, name) AS (
                     SELECT con.conparentid, con.conname
                     UNION ALL
                     SELECT p.conparentid, p.conname
                       FROM pg_catalog.pg_constraint AS p JOIN up ON p.oid = up.parent)
                 SELECT name::text FROM up WHERE up.parent = 0),
                con.conname::text)                                              AS constraint_name,
       CASE con.confupdtype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
            WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT'
            ELSE 'NO ACTION' END                                                AS action,
       child.oid::int8                                                          AS child_oid,
       con.confrelid::int8                                                      AS parent_oid,
       ARRAY(SELECT con.confrelid::int8
             UNION
             SELECT a.relid::int8
               FROM pg_catalog.pg_partition_ancestors(con.confrelid) AS a)      AS parent_oids,
       ARRAY(SELECT a.relid::int8
               FROM pg_catalog.pg_partition_ancestors(con.conrelid) AS a)       AS child_oids,
       CASE WHEN child.relkind = 'p' THEN '' ELSE 'ONLY ' END
         || pg_catalog.format('%I.%I', child_ns.nspname, child.relname)         AS child_sql,
       child_ns.nspname::text || '.' || child.relname::text                     AS child_name,
       ARRAY(SELECT a.attname::text
               FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute AS a
                 ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord)                                                   AS child_columns,
       ARRAY(SELECT a.attname::text
               FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute AS a
                 ON a.attrelid = con.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord)                                                   AS parent_columns,
       ARRAY(SELECT CASE WHEN o.oid < 16384 THEN '='
                         ELSE 'OPERATOR(' || pg_catalog.quote_ident(n.nspname) || '.'
                              || o.oprname || ')' END
               FROM unnest(con.conpfeqop) WITH ORDINALITY AS k(opr, ord)
               JOIN pg_catalog.pg_operator AS o ON o.oid = k.opr
               JOIN pg_catalog.pg_namespace AS n ON n.oid = o.oprnamespace
              ORDER BY k.ord)                                                   AS equality,
       ARRAY(SELECT CASE WHEN o.oprright = a.atttypid OR t.typtype = 'p' THEN ''
                         ELSE pg_catalog.format('%I.%I', tn.nspname, t.typname) END
               FROM unnest(con.conpfeqop, con.conkey) WITH ORDINALITY AS k(opr, attnum, ord)
               JOIN pg_catalog.pg_operator AS o ON o.oid = k.opr
               JOIN pg_catalog.pg_type AS t ON t.oid = o.oprright
               JOIN pg_catalog.pg_namespace AS tn ON tn.oid = t.typnamespace
               JOIN pg_catalog.pg_attribute AS a
                 ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord)                                                   AS child_casts,
       ARRAY(SELECT a.attname::text
               FROM pg_catalog.pg_index AS i
              CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute AS a
                 ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = con.conrelid AND i.indisprimary
              ORDER BY k.ord)                                                   AS child_key
  FROM pg_catalog.pg_constraint AS con
  JOIN pg_catalog.pg_class AS child ON child.oid = con.conrelid
  JOIN pg_catalog.pg_namespace AS child_ns ON child_ns.oid = child.relnamespace
 WHERE con.contype = 'f'
   AND CASE WHEN $1::text IS NULL THEN con.conparentid = 0 AND con.confupdtype IN ('c', 'n', 'd')
            ELSE con.conname = $1::text AND child_ns.nspname = $2::text
                 AND child.relname = $3::text END
 ORDER BY child_name, constraint_name
