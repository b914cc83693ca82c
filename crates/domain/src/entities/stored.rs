//! Stored fields of an unexpected JSON type (issue 12 item 9).
//!
//! The reference stored PATCH bodies unchecked, so a real data directory can hold a task
//! `priority: 5`, `description: null`, a session `env: {"A": 1}`, a project `name: null`…
//! Strict deserialization would make each such entity vanish (its file skipped), and with
//! it the rules that depend on it (a project whose tasks vanished could be deleted).
//!
//! Each stored entity therefore loads through a *shape*: a description of its typed fields
//! ([`Field`]). Before the entity is deserialized, [`repair`] walks the JSON value and
//! replaces every value of an unexpected type by a placeholder its field accepts (`""`,
//! `0`, `false`, `[]`, an absent optional field, …), recording the stored value as an
//! [`OddValue`]. The entity then holds the placeholder — which domain rules read as empty,
//! or as none of an enum's known values (an enum placeholder is the unknown string `""`) —
//! and [`OddValues::render`] puts the stored value back when the entity is serialized, as
//! long as the field still holds its placeholder: the entity is served and written back
//! exactly as stored until a write changes that field. Entity methods that change a field
//! also drop its odd value ([`OddValues::forget`]).
//!
//! Scope: only the *type* of a field is forgiven; ids the store keys files by (`id`,
//! `projectId` of tasks and sessions, …) must still be strings, and a file that is not a
//! JSON object is still skipped. New input from the API is validated strictly (spec §2):
//! odd values only ever come from stored data.

use serde_json::{Map, Value};

/// How a field may appear in stored JSON, and what stands in for an odd value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// Must be present (no serde default). Absent or odd → placeholder.
    Required,
    /// May be absent (serde default); `null` or another type → placeholder.
    Defaulted,
    /// `Option` omitted when `None`: absent is `None`; `null` or another type is odd and
    /// removed (the field reads as `None`).
    Optional,
    /// `Option` written as `null` when `None`: another type is odd and becomes `null`.
    Nullable,
    /// A key the store relies on (file names, lookups): must have its type, else the
    /// entity does not load.
    Key,
}

/// The JSON type a field is deserialized from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// A string.
    Str,
    /// An integer (epoch ms and other `i64`s).
    Int,
    /// A boolean.
    Bool,
    /// A stored enum ([`super::Lenient`]): any string; the placeholder `""` is none of the
    /// known values.
    Enum,
    /// Any JSON value.
    Any,
    /// An array of strings; an odd element makes the whole field odd.
    StrList,
    /// An object whose values have this shape; an odd entry is odd on its own (removed).
    Map(&'static Shape),
    /// A nested object with these fields.
    Obj(&'static [Field]),
    /// An array of objects with these fields; an element that is not an object is odd on
    /// its own.
    List(&'static [Field]),
}

/// One typed field of a stored entity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// JSON key.
    pub key: &'static str,
    /// Type.
    pub shape: Shape,
    /// Presence rule.
    pub presence: Presence,
}

/// A field of `shape`, with `presence`.
pub(crate) const fn field(key: &'static str, shape: Shape, presence: Presence) -> Field {
    Field {
        key,
        shape,
        presence,
    }
}

/// One step of a path into an entity's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A stored value of an unexpected type (or a required field that was absent), and what
/// the typed field holds instead.
#[derive(Debug, Clone, PartialEq)]
pub struct OddValue {
    /// Where it is: `["env", "A"]`, `["timeline", 3, "message"]`.
    pub path: Vec<PathStep>,
    /// The stored value; `None` when a required field was absent.
    pub stored: Option<Value>,
    /// The placeholder the typed field was given; `None` when the field was left absent.
    pub placeholder: Option<Value>,
}

impl OddValue {
    /// The path as text: `timeline[3].message`.
    pub fn path_text(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            match step {
                PathStep::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                PathStep::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// What was stored, for messages: `5 (a number)`, `null`, `absent`.
    pub fn describe(&self) -> String {
        match &self.stored {
            None => "absent".to_owned(),
            Some(Value::Null) => "null".to_owned(),
            Some(v) => {
                let text = v.to_string();
                format!(
                    "{} ({})",
                    crate::ids::shown(&text),
                    match v {
                        Value::Bool(_) => "a boolean",
                        Value::Number(_) => "a number",
                        Value::String(_) => "a string",
                        Value::Array(_) => "an array",
                        Value::Object(_) => "an object",
                        Value::Null => "null",
                    }
                )
            }
        }
    }

    fn starts_with(&self, prefix: &[&str]) -> bool {
        self.path.len() >= prefix.len()
            && self
                .path
                .iter()
                .zip(prefix)
                .all(|(step, key)| matches!(step, PathStep::Key(k) if k == key))
    }
}

/// The odd values of one entity, in the order [`repair`] found them. Almost always empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OddValues(Vec<OddValue>);

impl OddValues {
    /// True when the entity was stored with the expected types.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The odd values.
    pub fn iter(&self) -> impl Iterator<Item = &OddValue> {
        self.0.iter()
    }

    /// True if the top-level field `key` (or something inside it) is odd.
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|o| o.starts_with(&[key]))
    }

    /// Drops the odd values at or below `path` (`["env", "A"]`, or `["env"]` for the whole
    /// field): a write set that field, so the typed value is what is stored now.
    pub fn forget(&mut self, path: &[&str]) {
        if !self.0.is_empty() {
            self.0.retain(|o| !o.starts_with(path));
        }
    }

    /// Drops the odd value of the whole field `key` (not those of entries inside it): for
    /// writes that change one entry of a map or append to a list.
    pub fn forget_whole(&mut self, key: &str) {
        if !self.0.is_empty() {
            self.0
                .retain(|o| !(o.path.len() == 1 && o.starts_with(&[key])));
        }
    }

    /// Moves the odd values of `other` at or below the top-level fields `keys` into `self`:
    /// an entity rebuilt from a new set of other fields keeps the odd values of the fields it
    /// took over from `other` (the filesystem store's journal patches of sessions).
    pub fn adopt(&mut self, other: &mut OddValues, keys: &[&str]) {
        let (moved, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut other.0)
            .into_iter()
            .partition(|o| keys.iter().any(|k| o.starts_with(&[k])));
        other.0 = kept;
        self.0.retain(|o| !keys.iter().any(|k| o.starts_with(&[k])));
        self.0.extend(moved);
    }

    /// Puts the stored values back into `value` (the entity serialized with its typed
    /// fields), each only where the typed field still holds its placeholder.
    pub fn render(&self, value: &mut Value) {
        for odd in &self.0 {
            let Some((last, parents)) = odd.path.split_last() else {
                continue;
            };
            let Some(parent) = walk_mut(value, parents) else {
                continue;
            };
            match (parent, last) {
                (Value::Object(map), PathStep::Key(k)) => {
                    if map.get(k) != odd.placeholder.as_ref() {
                        continue;
                    }
                    match &odd.stored {
                        Some(v) => {
                            map.insert(k.clone(), v.clone());
                        }
                        None => {
                            map.remove(k);
                        }
                    }
                }
                (Value::Array(items), PathStep::Index(i)) => {
                    if let (Some(slot), Some(v)) = (items.get_mut(*i), &odd.stored)
                        && Some(&*slot) == odd.placeholder.as_ref()
                    {
                        *slot = v.clone();
                    }
                }
                _ => {}
            }
        }
    }
}

fn walk_mut<'a>(mut value: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    for step in path {
        value = match (value, step) {
            (Value::Object(m), PathStep::Key(k)) => m.get_mut(k)?,
            (Value::Array(a), PathStep::Index(i)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Why a stored entity cannot load even leniently.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    /// The JSON is not an object.
    #[error("the stored JSON is not an object")]
    NotAnObject,
    /// A key field (`id`, `projectId`, …) is missing or has another type.
    #[error("{0} must be a string")]
    BadKey(&'static str),
    /// Deserialization failed after the repair (a shape that does not match the entity).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Replaces the odd values of the object `value` per `fields` and returns them (see the
/// module docs).
///
/// # Errors
/// [`StoredError::NotAnObject`], or [`StoredError::BadKey`] for a [`Presence::Key`] field
/// that is absent or of another type.
pub(crate) fn repair(value: &mut Value, fields: &[Field]) -> Result<OddValues, StoredError> {
    let Value::Object(map) = value else {
        return Err(StoredError::NotAnObject);
    };
    let mut odd = Vec::new();
    let mut path = Vec::new();
    repair_object(map, fields, &mut path, &mut odd)?;
    Ok(OddValues(odd))
}

fn repair_object(
    map: &mut Map<String, Value>,
    fields: &[Field],
    path: &mut Vec<PathStep>,
    odd: &mut Vec<OddValue>,
) -> Result<(), StoredError> {
    for f in fields {
        let fits = match map.get(f.key) {
            None => !matches!(f.presence, Presence::Required | Presence::Key),
            Some(Value::Null) => match f.presence {
                Presence::Nullable => true,
                // Read as `None`, then served without the key: keep the `null`.
                Presence::Optional => false,
                _ => f.shape.takes_null(),
            },
            Some(v) => f.shape.fits(v),
        };
        if !fits {
            if f.presence == Presence::Key {
                return Err(StoredError::BadKey(f.key));
            }
            let placeholder = match f.presence {
                Presence::Optional => None,
                Presence::Nullable => Some(Value::Null),
                _ => Some(f.shape.placeholder()),
            };
            let stored = match &placeholder {
                Some(p) => map.insert(f.key.to_owned(), p.clone()),
                None => map.remove(f.key),
            };
            let mut at = path.clone();
            at.push(PathStep::Key(f.key.to_owned()));
            odd.push(OddValue {
                path: at,
                stored,
                placeholder,
            });
            continue;
        }
        let Some(v) = map.get_mut(f.key) else {
            continue;
        };
        path.push(PathStep::Key(f.key.to_owned()));
        match (f.shape, v) {
            (Shape::Map(inner), Value::Object(entries)) => {
                let bad: Vec<String> = entries
                    .iter()
                    .filter(|(_, e)| !inner.fits(e))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in bad {
                    let stored = entries.remove(&k);
                    let mut at = path.clone();
                    at.push(PathStep::Key(k));
                    odd.push(OddValue {
                        path: at,
                        stored,
                        placeholder: None,
                    });
                }
            }
            (Shape::Obj(sub), Value::Object(obj)) => repair_object(obj, sub, path, odd)?,
            (Shape::List(sub), Value::Array(items)) => {
                for (i, item) in items.iter_mut().enumerate() {
                    path.push(PathStep::Index(i));
                    match item {
                        Value::Object(obj) => repair_object(obj, sub, path, odd)?,
                        other => {
                            let placeholder = Shape::Obj(sub).placeholder();
                            let stored = std::mem::replace(other, placeholder.clone());
                            odd.push(OddValue {
                                path: path.clone(),
                                stored: Some(stored),
                                placeholder: Some(placeholder),
                            });
                        }
                    }
                    path.pop();
                }
            }
            _ => {}
        }
        path.pop();
    }
    Ok(())
}

impl Shape {
    /// True if a non-null `v` deserializes as this shape (nested odd values aside: those
    /// are repaired inside).
    fn fits(self, v: &Value) -> bool {
        match self {
            Shape::Str | Shape::Enum => v.is_string(),
            Shape::Int => v.as_i64().is_some(),
            Shape::Bool => v.is_boolean(),
            Shape::Any => true,
            Shape::StrList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            Shape::Map(_) | Shape::Obj(_) => v.is_object(),
            Shape::List(_) => v.is_array(),
        }
    }

    /// True if `null` deserializes as this shape (into a non-`Option` field).
    fn takes_null(self) -> bool {
        matches!(self, Shape::Any)
    }

    /// The value an odd field of this shape is replaced by.
    fn placeholder(self) -> Value {
        match self {
            Shape::Str | Shape::Enum => Value::String(String::new()),
            Shape::Int => Value::from(0),
            Shape::Bool => Value::Bool(false),
            Shape::Any => Value::Null,
            Shape::StrList | Shape::List(_) => Value::Array(Vec::new()),
            Shape::Map(_) => Value::Object(Map::new()),
            Shape::Obj(fields) => Value::Object(
                fields
                    .iter()
                    .filter(|f| matches!(f.presence, Presence::Required | Presence::Key))
                    .map(|f| (f.key.to_owned(), f.shape.placeholder()))
                    .collect(),
            ),
        }
    }
}

/// Implements `Serialize` / `Deserialize` for a stored entity whose derives are generated
/// as inherent functions (`#[serde(remote = "Self")]`) and which has an `odd: OddValues`
/// field: deserialization repairs the value first ([`repair`] with `$fields`), serialization
/// renders the odd values back when there are any. Also implements [`Stored`].
macro_rules! stored_entity {
    ($ty:ty, $fields:expr) => {
        impl $crate::entities::Stored for $ty {
            fn from_stored(
                mut value: serde_json::Value,
            ) -> Result<Self, $crate::entities::StoredError> {
                let odd = $crate::entities::stored::repair(&mut value, $fields)?;
                let mut entity = <$ty>::deserialize(value)?;
                entity.odd = odd;
                Ok(entity)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if self.odd.is_empty() {
                    return <$ty>::serialize(self, serializer);
                }
                let mut value = <$ty>::serialize(self, serde_json::value::Serializer)
                    .map_err(serde::ser::Error::custom)?;
                self.odd.render(&mut value);
                serde::Serialize::serialize(&value, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                <$ty as $crate::entities::Stored>::from_stored(value)
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use stored_entity;

/// An entity read from stored JSON leniently (see the module docs).
pub trait Stored: Sized {
    /// Loads an entity from its stored JSON, keeping values of an unexpected type as odd
    /// values.
    ///
    /// # Errors
    /// [`StoredError`] when the value is not an object, a key field is not a string, or
    /// the entity cannot be built even so.
    fn from_stored(value: Value) -> Result<Self, StoredError>;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    static INNER: [Field; 2] = [
        field("id", Shape::Str, Presence::Required),
        field("n", Shape::Int, Presence::Optional),
    ];
    static SHAPE: [Field; 6] = [
        field("id", Shape::Str, Presence::Key),
        field("title", Shape::Str, Presence::Required),
        field("env", Shape::Map(&Shape::Str), Presence::Defaulted),
        field("parent", Shape::Str, Presence::Nullable),
        field("tags", Shape::StrList, Presence::Optional),
        field("items", Shape::List(&INNER), Presence::Defaulted),
    ];

    #[test]
    fn repairs_and_renders_back() {
        let stored = json!({"id": "x", "title": null, "env": {"A": 1, "B": "b"},
                            "parent": 5, "tags": [1], "items": [7, {"id": "i", "n": "two"}],
                            "extra": true});
        let mut v = stored.clone();
        let odd = repair(&mut v, &SHAPE).unwrap();
        assert_eq!(
            v,
            json!({"id": "x", "title": "", "env": {"B": "b"}, "parent": null,
                   "items": [{"id": ""}, {"id": "i"}], "extra": true})
        );
        let paths: Vec<_> = odd.iter().map(OddValue::path_text).collect();
        assert_eq!(
            paths,
            ["title", "env.A", "parent", "tags", "items[0]", "items[1].n"]
        );
        let mut back = v.clone();
        odd.render(&mut back);
        assert_eq!(back, stored);

        // A field changed since keeps its new value; the others are still rendered.
        let mut changed = v;
        changed["title"] = json!("new");
        changed["env"]["A"] = json!("a");
        odd.render(&mut changed);
        assert_eq!(changed["title"], "new");
        assert_eq!(changed["env"], json!({"A": "a", "B": "b"}));
        assert_eq!(changed["parent"], 5);

        let mut forgetful = odd.clone();
        forgetful.forget(&["env"]);
        forgetful.forget_whole("items");
        assert!(!forgetful.has("env"));
        assert!(forgetful.has("items"), "items[1].n is kept");
    }

    #[test]
    fn keys_and_non_objects_still_fail() {
        assert!(matches!(
            repair(&mut json!([1]), &SHAPE),
            Err(StoredError::NotAnObject)
        ));
        assert!(matches!(
            repair(&mut json!({"id": 5, "title": "t"}), &SHAPE),
            Err(StoredError::BadKey("id"))
        ));
        let mut missing = json!({"id": "x"});
        let odd = repair(&mut missing, &SHAPE).unwrap();
        assert_eq!(odd.iter().next().unwrap().stored, None);
        assert_eq!(missing["title"], "");
        let mut rendered = missing.clone();
        odd.render(&mut rendered);
        assert!(rendered.get("title").is_none(), "served as stored: absent");
    }
}
