-- Which of the sequences the import's inserts may draw from ($1, regclass text) it may put back
-- when it does not commit. $2: the oids of the tables it locked (SHARE ROW EXCLUSIVE, which no
-- other session's INSERT passes). One row per sequence, in the order given:
--   may_set   the role holds UPDATE on it (setval needs it);
--   private   it belongs to a column of a locked table (serial or identity: OWNED BY) and no
--             column default outside the locked tables calls it: no other session's insert can
--             have drawn from it while the import held its locks. A sequence some other table
--             (or a partition of a locked table, which has its own default) also draws from is
--             not private: moving it back could hand out a value another session already took.
-- It runs under the role's search_path, so every operator is qualified.
SELECT pg_catalog.has_sequence_privilege(s.seq, 'UPDATE') AS may_set,
       EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                  AND d.objid OPERATOR(pg_catalog.=) s.seq
                  AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                  AND d.refobjid OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[])
                  AND d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::"char"[]))
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                         JOIN pg_catalog.pg_attrdef AS ad ON ad.oid OPERATOR(pg_catalog.=) d.objid
                        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.refobjid OPERATOR(pg_catalog.=) s.seq
                          AND ad.adrelid OPERATOR(pg_catalog.<>) ALL ($2::pg_catalog.oid[]))
         AS private
  FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS t(name, n)
 CROSS JOIN LATERAL (SELECT t.name::pg_catalog.regclass::pg_catalog.oid AS seq) AS s
 ORDER BY t.n
