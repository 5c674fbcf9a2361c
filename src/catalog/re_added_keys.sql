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
--   held          the key would not come back as it is, or must not be touched:
--                 - something else depends on it (DROP would refuse without CASCADE), or a
--                   security label is attached to it;
--                 - ADD would pick another unique index of the parent than the one the key
--                   uses (it takes the first qualifying index by OID; the definition names
--                   columns, not the index): held unless exactly one index qualifies;
--                 - one of its internal triggers is not enabled as usual (a superuser's
--                   ALTER TABLE … DISABLE TRIGGER ALL: re-adding would enable it);
--                 - one of its clones on partitions has a comment, or a clone on a partition
--                   of the child has a name of its own (one merged in by ATTACH PARTITION):
--                   re-adding makes clones anew, named after the key, without comments
--   locks         the locks dropping and re-adding it holds until the commit, estimated: five
--                 for each constraint of its family (the key and its clones: the constraint
--                 and its triggers), three for each partition of the child or the parent
--                 beyond the tables themselves (locked, with their indexes, by the drop and by
--                 the validation)
-- Keys cloned onto partitions (conparentid <> 0) are dropped and re-added with their parent
-- key, never on their own.
WITH RECURSIVE family (root, oid, conrelid, conname) AS (
    SELECT c.oid, c.oid, c.conrelid, c.conname
      FROM pg_catalog.pg_constraint AS c
     WHERE c.contype = 'f' AND c.conparentid = 0 AND c.conrelid = ANY ($1::pg_catalog.oid[])
    UNION ALL
    SELECT f.root, d.oid, d.conrelid, d.conname
      FROM pg_catalog.pg_constraint AS d
      JOIN family AS f ON d.conparentid = f.oid
), facts AS (
    SELECT f.root,
           pg_catalog.count(*) AS members,
           pg_catalog.bool_or(EXISTS (SELECT 1 FROM pg_catalog.pg_trigger AS g
                                       WHERE g.tgconstraint = f.oid AND g.tgenabled <> 'O'))
             AS trigger_off,
           pg_catalog.bool_or(f.oid <> f.root
                              AND (f.conrelid <> r.conrelid AND f.conname <> r.conname
                                   OR EXISTS (SELECT 1 FROM pg_catalog.pg_description AS d
                                               WHERE d.classoid = 'pg_catalog.pg_constraint'
                                                                  ::pg_catalog.regclass
                                                 AND d.objoid = f.oid)))
             AS clone_of_its_own
      FROM family AS f
      JOIN pg_catalog.pg_constraint AS r ON r.oid = f.root
     GROUP BY f.root
)
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
                       AND s.objoid = c.oid)
         OR (SELECT pg_catalog.count(*) <> 1
                    OR pg_catalog.bool_or(i.indexrelid <> c.conindid)
               FROM pg_catalog.pg_index AS i
              WHERE i.indrelid = c.confrelid
                AND i.indisunique AND i.indimmediate
                AND i.indpred IS NULL AND i.indexprs IS NULL
                AND i.indnkeyatts = pg_catalog.cardinality(c.confkey)
                AND (SELECT pg_catalog.array_agg(k ORDER BY k)
                       FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[])
                            WITH ORDINALITY AS u(k, n)
                      WHERE n <= i.indnkeyatts)
                    = (SELECT pg_catalog.array_agg(k ORDER BY k)
                         FROM pg_catalog.unnest(c.confkey) AS k))
         OR x.trigger_off
         OR x.clone_of_its_own AS held,
       5 * x.members
         + CASE WHEN t.relkind = 'p'
                THEN 3 * ((SELECT pg_catalog.count(*)
                             FROM pg_catalog.pg_partition_tree(c.conrelid)) - 1)
                ELSE 0 END
         + CASE WHEN p.relkind = 'p'
                THEN 3 * ((SELECT pg_catalog.count(*)
                             FROM pg_catalog.pg_partition_tree(c.confrelid)) - 1)
                ELSE 0 END
         AS locks
  FROM pg_catalog.pg_constraint AS c
  JOIN pg_catalog.pg_class AS t ON t.oid = c.conrelid
  JOIN pg_catalog.pg_class AS p ON p.oid = c.confrelid
  JOIN facts AS x ON x.root = c.oid
 ORDER BY c.conrelid, c.conname
