-- Which of the sequences the import's inserts may draw from ($1, regclass text as read under
-- an empty search_path: always schema-qualified) the role may read: `SELECT last_value,
-- is_called FROM` it needs SELECT on the sequence and USAGE on its schema (a column default
-- draws by oid, with USAGE or UPDATE on the sequence alone). One row per sequence, in the
-- order given; a name that no longer names a sequence is not readable. The names are matched
-- against the catalog, never resolved (`to_regclass` raises "permission denied for schema"
-- where the role lacks USAGE on it), so that this never fails the import. It runs under the
-- role's search_path, so every function and operator is qualified.
SELECT COALESCE(pg_catalog.has_sequence_privilege(s.oid, 'SELECT')
                AND pg_catalog.has_schema_privilege(s.relnamespace, 'USAGE'), false) AS readable
  FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS t(name, n)
  LEFT JOIN (SELECT pg_catalog.quote_ident(ns.nspname) OPERATOR(pg_catalog.||) '.'
                      OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) AS name,
                    c.oid, c.relnamespace
               FROM pg_catalog.pg_class AS c
               JOIN pg_catalog.pg_namespace AS ns
                 ON ns.oid OPERATOR(pg_catalog.=) c.relnamespace
              WHERE c.relkind OPERATOR(pg_catalog.=) 'S') AS s
    ON s.name OPERATOR(pg_catalog.=) t.name
 ORDER BY t.n
