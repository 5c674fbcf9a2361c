-- Which of the sequences the import's inserts may draw from ($1, regclass text) the role may
-- read (`SELECT last_value, is_called FROM` it needs SELECT on the sequence; USAGE or UPDATE
-- is enough to draw from it). One row per sequence, in the order given; a name that no longer
-- resolves is not readable. Never fails on privileges, so that it never fails the import.
-- It runs under the role's search_path, so every function is qualified.
SELECT COALESCE(pg_catalog.has_sequence_privilege(pg_catalog.to_regclass(t.name)::pg_catalog.oid,
                                                            'SELECT'), false) AS readable
  FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS t(name, n)
 ORDER BY t.n
