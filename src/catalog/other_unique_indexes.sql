-- A condition, true when table {table_oid} (or one of its partitions, by an index of its own)
-- has more unique indexes than the {known} usable unique keys the catalog read found
-- (unique_keys.sql skips partial and expression indexes and reads no partition's indexes):
-- a drift repair there may free or restore a value such an index holds, so it runs before
-- the table's new rows. Uncorrelated, so the server evaluates it once, before the query it
-- guards reads a row. Indexes attached to a parent's index are that index.
(SELECT pg_catalog.count(*)
   FROM pg_catalog.pg_index AS i
  WHERE i.indisunique
    AND i.indisvalid
    AND (i.indrelid = {table_oid}::pg_catalog.oid
         OR i.indrelid IN (SELECT p.relid
                             FROM pg_catalog.pg_partition_tree({table_oid}::pg_catalog.oid) AS p))
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits AS h
                     WHERE h.inhrelid = i.indexrelid)) > {known}
