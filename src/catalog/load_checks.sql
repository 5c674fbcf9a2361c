-- Whether the import may load with foreign-key triggers off and check the keys itself: what
-- replica mode would skip that seedsnap does not check itself is absent on the tables loaded
-- ($1, table oids): deferrable exclusion constraints. One row: their count, whether the role
-- is a superuser, the server's version number (from 15 on, whether any other role may set
-- session_replication_role is asked with has_parameter_privilege), the number of enabled
-- event triggers (an import that drops and re-adds foreign keys would fire them), and the
-- size of the server's shared lock table in locks (max_locks_per_transaction ×
-- (max_connections + max_prepared_transactions), what dropping keys must fit in). It runs
-- under the role's search_path, so every operator is qualified.
SELECT (SELECT pg_catalog.count(*)::pg_catalog.int8
          FROM pg_catalog.pg_constraint AS c
         WHERE c.conrelid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[])
           AND c.contype OPERATOR(pg_catalog.=) 'x'
           AND c.condeferrable),
       (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r
         WHERE r.rolname OPERATOR(pg_catalog.=) current_user),
       pg_catalog.current_setting('server_version_num')::pg_catalog.int4,
       (SELECT pg_catalog.count(*)::pg_catalog.int8
          FROM pg_catalog.pg_event_trigger AS e
         WHERE e.evtenabled OPERATOR(pg_catalog.<>) 'D'),
       pg_catalog.current_setting('max_locks_per_transaction')::pg_catalog.int8
         OPERATOR(pg_catalog.*)
         (pg_catalog.current_setting('max_connections')::pg_catalog.int8
          OPERATOR(pg_catalog.+)
          pg_catalog.current_setting('max_prepared_transactions')::pg_catalog.int8)
