-- Why the server would refuse `COPY … FROM STDIN` into each of the given tables ($1, oids) at
-- its very start, before any row: the import asks first, because a COPY refused at its start
-- leaves the driver's session unusable ("connection closed", "unexpected message from
-- server") instead of reporting the server's error. One row per oid, in the order given:
--   refusal  NULL when nothing is known to stop the COPY, else
--     'read_only'    the transaction is read-only (default_transaction_read_only, a standby);
--     'privilege'    the role has INSERT neither on the table nor on any of its columns;
--     'row_security' row-level security applies to the role (it is not the owner, or the
--                    table forces it; and the role has neither SUPERUSER nor BYPASSRLS): under
--                    the import's row_security = off, the server refuses any statement on it.
--   denied   the columns the role may not INSERT into (column privileges only: empty when it
--            holds INSERT on the table), for the importer to match against the columns its
--            COPY names.
-- It runs under the role's search_path, so every operator is qualified.
SELECT CASE
         WHEN pg_catalog.current_setting('transaction_read_only')::bool
           THEN 'read_only'
         WHEN NOT pg_catalog.has_table_privilege(c.oid, 'INSERT')
              AND NOT pg_catalog.has_any_column_privilege(c.oid, 'INSERT')
           THEN 'privilege'
         WHEN c.relrowsecurity
              AND NOT r.rolsuper
              AND NOT r.rolbypassrls
              AND (c.relforcerowsecurity
                   OR NOT pg_catalog.pg_has_role(c.relowner, 'USAGE'))
           THEN 'row_security'
       END AS refusal,
       CASE
         WHEN pg_catalog.has_table_privilege(c.oid, 'INSERT') THEN '{}'::pg_catalog.text[]
         ELSE ARRAY(SELECT a.attname::pg_catalog.text
                      FROM pg_catalog.pg_attribute AS a
                     WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid
                       AND a.attnum OPERATOR(pg_catalog.>) 0
                       AND NOT a.attisdropped
                       AND NOT pg_catalog.has_column_privilege(c.oid, a.attnum, 'INSERT')
                     ORDER BY a.attnum)
       END AS denied
  FROM pg_catalog.unnest($1::pg_catalog.oid[]) WITH ORDINALITY AS t(oid, n)
  JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.oid
 CROSS JOIN (SELECT a.rolsuper, a.rolbypassrls FROM pg_catalog.pg_roles AS a
              WHERE a.rolname OPERATOR(pg_catalog.=) CURRENT_USER) AS r
 ORDER BY t.n
