-- The sessions that hold a lock on a table, for an import that could not lock it: who they are
-- and for how long their transaction has run. Another role's state and transaction start are
-- NULL for a role without pg_read_all_stats; its process id, role and application name are not.
-- $1: the table, as SQL text (a regclass).
SELECT DISTINCT ON (a.pid)
       a.pid,
       coalesce(a.usename::text, '?')                              AS role,
       coalesce(nullif(a.application_name, ''), '-')               AS application,
       a.state,
       extract(epoch FROM pg_catalog.now() - a.xact_start)::int8  AS seconds
  FROM pg_catalog.pg_locks AS l
  JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
 WHERE l.locktype = 'relation'
   AND l.relation = $1::pg_catalog.text::pg_catalog.regclass
   AND l.granted
   AND l.pid <> pg_catalog.pg_backend_pid()
 ORDER BY a.pid
