-- Which of the given tables (or one of their partitions, by an index of its own) have more
-- unique indexes than the usable unique keys the catalog read found for them (unique_keys.sql
-- skips partial and expression indexes and reads no partition's indexes): a drift repair
-- there may free or restore a value such an index holds, so it runs before the table's new
-- rows. Indexes attached to a parent's index are that index. Partitions are found through
-- pg_inherits (pg_partition_tree opens each table: 27 ms against 2.6 ms on 300 tables).
-- $1: int8[] of table oids; $2: int8[], for each, the number of usable unique keys known.
SELECT t.oid
  FROM unnest($1::int8[], $2::int8[]) AS t(oid, known)
 WHERE (SELECT pg_catalog.count(*)
          FROM pg_catalog.pg_index AS i
         WHERE i.indisunique
           AND i.indisvalid
           AND i.indrelid IN (WITH RECURSIVE tree (relid) AS (
                                  SELECT t.oid::pg_catalog.oid
                                  UNION ALL
                                  SELECT h.inhrelid
                                    FROM pg_catalog.pg_inherits AS h
                                    JOIN tree ON h.inhparent = tree.relid)
                              SELECT relid FROM tree)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits AS h
                            WHERE h.inhrelid = i.indexrelid)) > t.known
