-- Which of the given tables ($1, oids) hold no row without reading them: a heap table whose
-- main fork has no block (as after CREATE TABLE, TRUNCATE, or a clone of an empty template), or
-- a partitioned table all of whose partitions are such tables. One row per oid, in the order
-- given: true when known empty, false when it must be read (it has blocks, which may hold only
-- dead rows; or a partition that is not a plain table: a foreign table has no blocks but may
-- have rows; or a table of another access method, which may keep its rows elsewhere; or a
-- table the role may not read, so that reading it reports that, naming the table). It runs
-- under the role's search_path, so every operator is qualified.
SELECT CASE
         WHEN NOT pg_catalog.has_table_privilege(c.oid, 'SELECT')
           THEN false
         WHEN c.relkind OPERATOR(pg_catalog.=) 'r'
           THEN c.relam OPERATOR(pg_catalog.=) heap.oid
                AND pg_catalog.pg_relation_size(c.oid) OPERATOR(pg_catalog.=) 0
         WHEN c.relkind OPERATOR(pg_catalog.=) 'p'
           THEN NOT EXISTS (SELECT 1
                              FROM pg_catalog.pg_partition_tree(c.oid) AS tree
                              JOIN pg_catalog.pg_class AS l
                                ON l.oid OPERATOR(pg_catalog.=) tree.relid
                             WHERE l.relkind OPERATOR(pg_catalog.<>) 'p'
                               AND (l.relkind OPERATOR(pg_catalog.<>) 'r'
                                    OR l.relam OPERATOR(pg_catalog.<>) heap.oid
                                    OR pg_catalog.pg_relation_size(l.oid)
                                         OPERATOR(pg_catalog.>) 0))
         ELSE false
       END
  FROM pg_catalog.unnest($1::pg_catalog.oid[]) WITH ORDINALITY AS t(oid, n)
  JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.oid
 CROSS JOIN (SELECT a.oid FROM pg_catalog.pg_am AS a
              WHERE a.amname OPERATOR(pg_catalog.=) 'heap') AS heap
 ORDER BY t.n
