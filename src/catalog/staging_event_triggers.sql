-- The event triggers that fire on the import's own DDL: the `CREATE TEMPORARY TABLE` of each
-- staging table (command tag CREATE TABLE, at ddl_command_start and ddl_command_end), in the
-- session's current mode (an event trigger enabled for origin sessions does not fire in the
-- fast path's replica mode; ENABLE ALWAYS fires in both; ENABLE REPLICA only in replica).
-- The staging tables are dropped at COMMIT (ON COMMIT DROP), which no event trigger sees.
-- One row per trigger: name, event, function. It runs under the role's search_path, so every
-- operator is qualified.
SELECT e.evtname::pg_catalog.text AS name,
       e.evtevent::pg_catalog.text AS event,
       e.evtfoid::pg_catalog.regprocedure::pg_catalog.text AS function
  FROM pg_catalog.pg_event_trigger AS e
 WHERE e.evtevent OPERATOR(pg_catalog.=) ANY (ARRAY['ddl_command_start', 'ddl_command_end'])
   AND (e.evttags IS NULL
        OR 'CREATE TABLE' OPERATOR(pg_catalog.=) ANY (e.evttags))
   AND CASE pg_catalog.current_setting('session_replication_role')
         WHEN 'replica' THEN e.evtenabled OPERATOR(pg_catalog.=) ANY (ARRAY['R', 'A']::"char"[])
         ELSE e.evtenabled OPERATOR(pg_catalog.=) ANY (ARRAY['O', 'A']::"char"[])
       END
 ORDER BY e.evtname
