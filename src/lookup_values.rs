//! `when` values that name a row of a lookup table: Django's generic relations store
//! `(content_type_id, object_id)`, where `content_type_id` is a row of
//! `django_content_type (app_label, model)`, and its number differs between databases. A virtual
//! key can say `when content_type_id = django_content_type(app_label = 'billing', model =
//! 'invoice')`; the value is then read from the source inside the export's snapshot: the key of
//! the one row with those values. The key column is the one the discriminator references
//! through a declared foreign key, else the lookup table's single-column primary key. No such
//! row, or several, is a problem `check-config` and `export` report.

use anyhow::Result;
use postgres::Transaction;

use crate::catalog::{quote_ident, quote_literal, Catalog, ForeignKey};
use crate::problem::Problem;
use crate::virtual_keys::{LookupRow, VirtualKeySpec};

/// The column of `lookup` whose value the discriminator `column` of `child` holds.
pub fn key_column(
    catalog: &Catalog,
    child: usize,
    column: &str,
    lookup: usize,
) -> Result<String, String> {
    let declared = catalog.outgoing(child).find(|(_, fk)| {
        fk.parent == lookup && !fk.is_virtual() && fk.columns == [column.to_string()]
    });
    if let Some((_, fk)) = declared {
        return Ok(fk.parent_columns[0].clone());
    }
    // The declared primary key, generated or not: the lookup reads the source, where every
    // column has its value (the snapshot's row key leaves a generated one aside).
    let primary = catalog.tables[lookup]
        .unique_keys
        .iter()
        .find(|k| k.primary);
    match primary.map(|k| &k.columns[..]) {
        Some([column]) => Ok(column.clone()),
        _ => Err(format!(
            "{} has no single-column primary key and {}.{column} declares no foreign key to \
             it, so no column says which value names the row",
            catalog.tables[lookup].name, catalog.tables[child].name
        )),
    }
}

/// `SELECT key::text FROM lookup WHERE filter::text = 'value' AND … LIMIT 2`.
pub fn lookup_sql(catalog: &Catalog, lookup: usize, key: &str, row: &LookupRow) -> String {
    let filters: Vec<String> = row
        .filters
        .iter()
        .map(|c| {
            format!(
                "t.{}::pg_catalog.text OPERATOR(pg_catalog.=) {}",
                quote_ident(&c.column),
                quote_literal(&c.value)
            )
        })
        .collect();
    format!(
        "SELECT t.{}::pg_catalog.text FROM {} AS t WHERE {} LIMIT 2",
        quote_ident(key),
        catalog.tables[lookup].from_clause(),
        filters.join(" AND ")
    )
}

/// `app_label = 'billing' and model = 'invoice'`
fn filters_text(row: &LookupRow) -> String {
    let filters: Vec<String> = row.filters.iter().map(|c| c.to_string()).collect();
    filters.join(" and ")
}

/// Replaces each lookup condition's value of `key` by the key of the row it names, read in
/// `txn`; what cannot be resolved goes to `problems`.
pub fn resolve(
    txn: &mut Transaction<'_>,
    catalog: &Catalog,
    spec: &VirtualKeySpec,
    key: &mut ForeignKey,
    problems: &mut Vec<Problem>,
) -> Result<()> {
    let used_in = spec.subject();
    for (i, row) in &spec.lookups {
        let Some(lookup) = catalog.find(&row.table) else {
            continue; // reported by virtual_keys::resolve
        };
        let column = &key.condition()[*i].column;
        let key_column = match key_column(catalog, key.child, column, lookup) {
            Ok(c) => c,
            Err(p) => {
                problems.push(used_in.problem(p));
                continue;
            }
        };
        let mut savepoint = txn.transaction()?;
        let found = savepoint.query(lookup_sql(catalog, lookup, &key_column, row).as_str(), &[]);
        savepoint.rollback()?;
        match found {
            Ok(rows) if rows.len() == 1 => match rows[0].get::<_, Option<String>>(0) {
                Some(value) => key.condition_mut().expect("a virtual key")[*i].value = value,
                None => {
                    problems.push(used_in.problem(format!("the row {row} has a NULL {key_column}")))
                }
            },
            Ok(rows) if rows.is_empty() => problems.push(used_in.problem(format!(
                "no row of {} has {}",
                row.table,
                filters_text(row)
            ))),
            Ok(_) => problems.push(used_in.problem(format!(
                "several rows of {} have {}; name more columns so that one row matches",
                row.table,
                filters_text(row)
            ))),
            Err(e) => problems.push(used_in.problem(format!(
                "looking up {row}: {}",
                e.as_db_error().map(|d| d.message()).unwrap_or("failed")
            ))),
        }
    }
    Ok(())
}
