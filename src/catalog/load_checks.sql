-- Whether the import may load with foreign-key triggers off and check the keys itself: what
-- replica mode would skip that seedsnap does not check itself is absent on the tables loaded
-- ($1, table oids): deferrable exclusion constraints. One row: their count. (Whether the role
-- may set session_replication_role is asked of the server by trying it.) It runs under the
-- role's search_path, so every operator is qualified.
SELECT (SELECT pg_catalog.count(*)::pg_catalog.int8
          FROM pg_catalog.pg_constraint AS c
         WHERE c.conrelid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[])
           AND c.contype OPERATOR(pg_catalog.=) 'x'
           AND c.condeferrable)
