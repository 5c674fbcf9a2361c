-- The equality operator a foreign key referencing each given column would compare with, where
-- it is not built in (citext's, a domain over citext's): the equality member of the default
-- btree operator class of the column's type, or of a domain's base type, which is what
-- ATAddForeignKeyConstraint takes from a referenced unique index of default operator classes.
-- Named `OPERATOR(schema.name)` as equality_operators.sql names them. Asked for the referenced
-- columns of virtual keys only (the config's keys, which no constraint records); a column of a
-- built-in type comes back with no row, and compares with `=`.
-- $1: int8[] of table oids, $2: text[] of column names, paired by position.
WITH RECURSIVE wanted AS (
    SELECT k.table_oid, k.column_name, a.atttypid AS type_oid
      FROM unnest($1::int8[], $2::text[]) AS k(table_oid, column_name)
      JOIN pg_catalog.pg_attribute AS a
        ON a.attrelid = k.table_oid::oid AND a.attname = k.column_name
     UNION ALL
    -- A domain's base type, and its base type's, down to a type that is not a domain.
    SELECT w.table_oid, w.column_name, t.typbasetype
      FROM wanted AS w
      JOIN pg_catalog.pg_type AS t ON t.oid = w.type_oid
     WHERE t.typtype = 'd'
)
SELECT w.table_oid::int8                                                  AS table_oid,
       w.column_name                                                      AS column_name,
       'OPERATOR(' || pg_catalog.quote_ident(n.nspname) || '.' || o.oprname || ')'
                                                                          AS operator_sql
  FROM wanted AS w
  JOIN pg_catalog.pg_type AS t ON t.oid = w.type_oid AND t.typtype <> 'd'
  JOIN pg_catalog.pg_opclass AS oc
    ON oc.opcintype = w.type_oid AND oc.opcdefault
   AND oc.opcmethod = (SELECT am.oid FROM pg_catalog.pg_am AS am WHERE am.amname = 'btree')
  JOIN pg_catalog.pg_amop AS ao
    ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = w.type_oid
   AND ao.amoprighttype = w.type_oid AND ao.amopstrategy = 3
  JOIN pg_catalog.pg_operator AS o ON o.oid = ao.amopopr
  JOIN pg_catalog.pg_namespace AS n ON n.oid = o.oprnamespace
 WHERE o.oid >= 16384
