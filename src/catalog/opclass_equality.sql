-- The equality operators of the given operator classes (a unique index's, by column), named
-- to be written as `OPERATOR(schema.name)`: a key of a type that is not built in (citext, a
-- domain over it) compares with its class's equality, which the import's statements, running
-- under the role's search_path, would not find by `=` when the type's schema is not on that
-- path (`citext = citext` resolves to `text = text` there, which tells case). Only classes
-- that are not built in are asked for. The equality is the B-tree strategy 3 operator between
-- two values of the class's input type.
-- $1: int8[] of operator class oids.
SELECT c.oid::int8                                                        AS opclass_oid,
       'OPERATOR(' || pg_catalog.quote_ident(n.nspname) || '.' || o.oprname || ')'
                                                                          AS operator_sql
  FROM pg_catalog.pg_opclass AS c
  JOIN pg_catalog.pg_amop AS ao
    ON ao.amopfamily = c.opcfamily
   AND ao.amopmethod = c.opcmethod
   AND ao.amoplefttype = c.opcintype
   AND ao.amoprighttype = c.opcintype
   AND ao.amopstrategy = 3
  JOIN pg_catalog.pg_operator AS o ON o.oid = ao.amopopr
  JOIN pg_catalog.pg_namespace AS n ON n.oid = o.oprnamespace
 WHERE c.oid = ANY ($1::int8[]::oid[])
