-- The foreign keys declared on the loaded tables ($1, table oids) that the import may drop for
-- its load and add back after it (see src/import/re_added_keys.rs), one row each, in a stable
-- order. Runs under an empty search_path, so that every table name, including the referenced
-- table inside the definition, comes out qualified.
--   child         the table, as regclass text (the ALTER TABLE target)
--   parent        the referenced table, as regclass text (locked with the child)
--   drop_clause   DROP CONSTRAINT name
--   add_clause    ADD CONSTRAINT name definition (as pg_dump writes it: pg_get_constraintdef)
--   comment_sql   COMMENT ON CONSTRAINT … IS …, or NULL when the key has no comment
--   may_re_add    the role owns the child (ALTER TABLE) and holds REFERENCES on the parent,
--                 on the table or on every referenced column (what ADD FOREIGN KEY checks)
--   held          something else depends on the constraint (DROP would refuse without
--                 CASCADE) or a security label is attached to it: it must stay as it is
-- Keys cloned onto partitions (conparentid <> 0) are dropped and re-added with their parent
-- key, never on their own.
SELECT c.conrelid::pg_catalog.regclass::pg_catalog.text AS child,
       c.confrelid::pg_catalog.regclass::pg_catalog.text AS parent,
       pg_catalog.format('DROP CONSTRAINT %I', c.conname) AS drop_clause,
       pg_catalog.format('ADD CONSTRAINT %I %s', c.conname,
                         pg_catalog.pg_get_constraintdef(c.oid)) AS add_clause,
       (SELECT pg_catalog.format('COMMENT ON CONSTRAINT %I ON %s IS %L', c.conname,
                                 c.conrelid::pg_catalog.regclass, d.description)
          FROM pg_catalog.pg_description AS d
         WHERE d.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
           AND d.objoid = c.oid AND d.objsubid = 0) AS comment_sql,
       pg_catalog.pg_has_role(t.relowner, 'USAGE')
         AND (pg_catalog.has_table_privilege(c.confrelid, 'REFERENCES')
              OR (SELECT pg_catalog.bool_and(
                           pg_catalog.has_column_privilege(c.confrelid, k, 'REFERENCES'))
                    FROM pg_catalog.unnest(c.confkey) AS k)) AS may_re_add,
       EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                WHERE d.refclassid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
                  AND d.refobjid = c.oid
                  AND d.deptype = 'n')
         OR EXISTS (SELECT 1 FROM pg_catalog.pg_seclabel AS s
                     WHERE s.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
                       AND s.objoid = c.oid) AS held
  FROM pg_catalog.pg_constraint AS c
  JOIN pg_catalog.pg_class AS t ON t.oid = c.conrelid
 WHERE c.contype = 'f'
   AND c.conparentid = 0
   AND c.conrelid = ANY ($1::pg_catalog.oid[])
 ORDER BY c.conrelid, c.conname
