-- The event triggers that fire on the import's own DDL, whose command tags are $1 (text[]):
-- 'CREATE TABLE' for the CREATE TEMPORARY TABLE of each staging table, 'ALTER TABLE' for the
-- ALTER TABLE … DISABLE/ENABLE TRIGGER of the user triggers held off; at ddl_command_start
-- and ddl_command_end, in the session's current mode (an event trigger enabled for origin
-- sessions does not fire in the fast path's replica mode; ENABLE ALWAYS fires in both; ENABLE
-- REPLICA only in replica). The staging tables are dropped at COMMIT (ON COMMIT DROP), which
-- no event trigger sees. One row per trigger: name, event, function (always with its schema:
-- the import asks both with an empty search_path and with the role's). It runs under the
-- role's search_path, so every operator is qualified.
SELECT e.evtname::pg_catalog.text AS name,
       e.evtevent::pg_catalog.text AS event,
       pg_catalog.format('%I.%I()', n.nspname, f.proname) AS function
  FROM pg_catalog.pg_event_trigger AS e
  JOIN pg_catalog.pg_proc AS f ON f.oid OPERATOR(pg_catalog.=) e.evtfoid
  JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) f.pronamespace
 WHERE e.evtevent OPERATOR(pg_catalog.=) ANY (ARRAY['ddl_command_start', 'ddl_command_end'])
   AND (e.evttags IS NULL OR e.evttags OPERATOR(pg_catalog.&&) $1::pg_catalog.text[])
   AND CASE pg_catalog.current_setting('session_replication_role')
         WHEN 'replica' THEN e.evtenabled OPERATOR(pg_catalog.=) ANY (ARRAY['R', 'A']::"char"[])
         ELSE e.evtenabled OPERATOR(pg_catalog.=) ANY (ARRAY['O', 'A']::"char"[])
       END
 ORDER BY e.evtname
