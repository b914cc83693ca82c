//! Row mapping helpers shared by the repositories: enum columns, JSONB columns, and the
//! generated INSERT / UPSERT statements for explicit column lists.
//!
//! Convention: a nullable column is an absent (or `null`) field of the JSON entity; `extra`
//! holds the entity's unknown keys as a JSON object.

use maestro_domain::entities::{Extra, Lenient, OddValues, WireEnum};
use maestro_domain::error::{DomainError, DomainResult, FieldError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_postgres::Row;

use crate::error::corrupt;

/// Reads a column, mapping a decode failure to `Internal` naming the table and column.
pub(crate) fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    table: &str,
    name: &str,
) -> DomainResult<T> {
    row.try_get(name)
        .map_err(|e| corrupt(table, format!("column {name}: {e}")))
}

/// Position of `name` in `cols`, meant for compile time (`const { pos(COLS, "status") }`):
/// a name missing from the list fails the build.
pub(crate) const fn pos(cols: &[&str], name: &str) -> usize {
    let wanted = name.as_bytes();
    let mut i = 0;
    while i < cols.len() {
        let candidate = cols[i].as_bytes();
        if candidate.len() == wanted.len() {
            let mut j = 0;
            while j < candidate.len() && candidate[j] == wanted[j] {
                j += 1;
            }
            if j == candidate.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("column is not in the list")
}

/// Reads column `idx` of a row selected with a known column list (`name` is for the error);
/// cheaper than [`col`], which searches the columns by name.
pub(crate) fn col_at<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    table: &str,
    idx: usize,
    name: &str,
) -> DomainResult<T> {
    row.try_get(idx)
        .map_err(|e| corrupt(table, format!("column {name}: {e}")))
}

/// Column `$name` of `$row`, selected with the module's `COLS` in order (the index is
/// resolved at compile time). Needs `T` (table name) and `COLS` in scope.
macro_rules! cols_at {
    ($row:expr, $name:literal) => {
        $crate::rows::col_at($row, T, const { $crate::rows::pos(COLS, $name) }, $name)
    };
}
pub(crate) use cols_at;

/// The texts of one entity's enum values for columns with a CHECK constraint, checked
/// together with its odd values. PostgreSQL keeps only the closed sets and typed columns; a
/// stored unknown string ([`Lenient::Other`]) or a value of an unexpected JSON type
/// ([`OddValues`]), which only a data directory written by the reference can hold, is
/// recorded, and [`Known::finish`] reports every one at once.
pub(crate) struct Known<'a> {
    table: &'static str,
    odd: &'a OddValues,
    bad: Vec<FieldError>,
}

impl<'a> Known<'a> {
    /// A collector for an entity of `table` whose odd values are `odd`: each is recorded
    /// now (path `table.jsonPath`) — except a `null` in an optional field, which is stored
    /// as SQL NULL (the field is then served without the key, which JavaScript reads the
    /// same way).
    pub(crate) fn new(table: &'static str, odd: &'a OddValues) -> Self {
        let bad = odd
            .iter()
            .filter(|o| !(o.stored == Some(Value::Null) && o.placeholder.is_none()))
            .map(|o| {
                FieldError::new(
                    format!("{table}.{}", o.path_text()),
                    format!(
                        "stored value {} is not of the field's type and cannot be stored in PostgreSQL",
                        o.describe()
                    ),
                )
            })
            .collect();
        Self { table, odd, bad }
    }

    /// The text of `value` for `column` (`""` when it is unknown; then `finish` fails). A
    /// column whose field is odd was recorded by [`Known::new`] already.
    pub(crate) fn one<E: WireEnum>(&mut self, column: &str, value: &Lenient<E>) -> &'static str {
        value.known().map_or_else(
            || {
                if !self.odd.has(&camel_case(column)) {
                    self.bad.push(FieldError::new(
                        format!("{}.{column}", self.table),
                        format!("{:?} is not one of {}", value.as_str(), E::expected()),
                    ));
                }
                ""
            },
            E::as_str,
        )
    }

    /// [`Known::one`] for a nullable column.
    pub(crate) fn opt<E: WireEnum>(
        &mut self,
        column: &str,
        value: Option<&Lenient<E>>,
    ) -> Option<&'static str> {
        value.map(|v| self.one(column, v))
    }

    /// `Validation` with one `details` entry (`path` = `table.column`) per unknown value.
    pub(crate) fn finish(self) -> DomainResult<()> {
        if self.bad.is_empty() {
            return Ok(());
        }
        let message = self
            .bad
            .iter()
            .map(|f| format!("{}: {}", f.path, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        Err(DomainError::Validation {
            message,
            details: self.bad,
        })
    }
}

/// `agent_tool` → `agentTool`: the JSON key of a column.
fn camel_case(column: &str) -> String {
    let mut out = String::with_capacity(column.len());
    let mut upper = false;
    for c in column.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `Validation` listing the odd values of an entity of `table` (see [`Known`]), for the
/// tables without CHECKed enum columns.
pub(crate) fn storable(table: &'static str, odd: &OddValues) -> DomainResult<()> {
    Known::new(table, odd).finish()
}

/// Parses an enum column with the enum's own `parse`.
pub(crate) fn parse_enum<T>(
    table: &str,
    name: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
) -> DomainResult<T> {
    parse(text).ok_or_else(|| corrupt(table, format!("column {name}: unknown value {text:?}")))
}

/// Parses an optional enum column.
pub(crate) fn parse_opt_enum<T>(
    table: &str,
    name: &str,
    text: Option<String>,
    parse: fn(&str) -> Option<T>,
) -> DomainResult<Option<T>> {
    text.map(|t| parse_enum(table, name, &t, parse)).transpose()
}

/// Serializes a value for a JSONB column.
pub(crate) fn to_json<T: Serialize>(what: &str, v: &T) -> DomainResult<Value> {
    serde_json::to_value(v)
        .map_err(|e| DomainError::internal(format!("cannot serialize {what}"), e))
}

/// Serializes an optional value for a nullable JSONB column (`None` → SQL NULL).
pub(crate) fn to_opt_json<T: Serialize>(what: &str, v: Option<&T>) -> DomainResult<Option<Value>> {
    v.map(|v| to_json(what, v)).transpose()
}

/// Decodes a JSONB column.
pub(crate) fn from_json<T: DeserializeOwned>(table: &str, name: &str, v: Value) -> DomainResult<T> {
    serde_json::from_value(v).map_err(|e| corrupt(table, format!("column {name}: {e}")))
}

/// Decodes a nullable JSONB column.
pub(crate) fn from_opt_json<T: DeserializeOwned>(
    table: &str,
    name: &str,
    v: Option<Value>,
) -> DomainResult<Option<T>> {
    v.map(|v| from_json(table, name, v)).transpose()
}

/// `extra` as a JSON object value.
pub(crate) fn extra_to_json(extra: &Extra) -> Value {
    Value::Object(extra.clone())
}

/// `extra` from its column (a non-object is treated as empty).
pub(crate) fn extra_from_json(v: Value) -> Extra {
    match v {
        Value::Object(m) => m,
        _ => Extra::new(),
    }
}

/// `col1, col2, …`.
pub(crate) fn col_list(cols: &[&str]) -> String {
    cols.join(", ")
}

/// `INSERT INTO t (cols) VALUES ($1, …)`.
pub(crate) fn insert_sql(table: &str, cols: &[&str]) -> String {
    let params: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        col_list(cols),
        params.join(", ")
    )
}

/// `INSERT … ON CONFLICT (pk) DO UPDATE SET every non-key column = EXCLUDED.column`.
pub(crate) fn upsert_sql(table: &str, cols: &[&str], pk: &[&str]) -> String {
    let sets: Vec<String> = cols
        .iter()
        .filter(|c| !pk.contains(c))
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    format!(
        "{} ON CONFLICT ({}) DO UPDATE SET {}",
        insert_sql(table, cols),
        pk.join(", "),
        sets.join(", ")
    )
}

/// `UPDATE t SET c2 = $2, … WHERE c1 = $1` (the first column is the key).
/// Tries of an optimistic read-modify-write (see [`select_versioned_sql`]) before the
/// repository falls back to a locking transaction.
pub(crate) const OPTIMISTIC_TRIES: usize = 4;

/// `SELECT <cols>, xmin::text AS row_version FROM <table> WHERE <cols[0]> = $1`: the row and
/// its version. `xmin` (the id of the transaction that wrote this row version) changes with
/// every update, so an update guarded by it ([`update_versioned_sql`]) writes only if nobody
/// else wrote in between: a read-modify-write in two autocommit statements instead of a
/// locking transaction's four.
pub(crate) fn select_versioned_sql(table: &str, cols: &[&str]) -> String {
    format!(
        "SELECT {}, xmin::text AS row_version FROM {table} WHERE {} = $1",
        col_list(cols),
        cols.first().copied().unwrap_or("id")
    )
}

/// [`update_sql`] guarded by the version read with [`select_versioned_sql`], passed as the
/// last parameter (`$<cols.len() + 1>`); 0 rows updated = someone else wrote first.
pub(crate) fn update_versioned_sql(table: &str, cols: &[&str]) -> String {
    format!(
        "{} AND xmin::text = ${}",
        update_sql(table, cols),
        cols.len() + 1
    )
}

pub(crate) fn update_sql(table: &str, cols: &[&str]) -> String {
    let sets: Vec<String> = cols
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    format!(
        "UPDATE {table} SET {} WHERE {} = $1",
        sets.join(", "),
        cols.first().copied().unwrap_or("id")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_map_to_json_keys() {
        assert_eq!(camel_case("agent_tool"), "agentTool");
        assert_eq!(camel_case("status"), "status");
        assert_eq!(camel_case("permission_mode"), "permissionMode");
    }

    #[test]
    fn generated_statements() {
        let cols = ["id", "a", "b"];
        assert_eq!(
            insert_sql("t", &cols),
            "INSERT INTO t (id, a, b) VALUES ($1, $2, $3)"
        );
        assert_eq!(
            upsert_sql("t", &cols, &["id"]),
            "INSERT INTO t (id, a, b) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET a = EXCLUDED.a, b = EXCLUDED.b"
        );
        assert_eq!(
            update_sql("t", &cols),
            "UPDATE t SET a = $2, b = $3 WHERE id = $1"
        );
    }
}
