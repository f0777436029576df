//! GraphQL for the fake Linear: documents validated against Linear's public
//! schema and their variables coerced to the declared types (apollo-compiler,
//! the GraphQL spec's rules, not string matching), the root field and its
//! arguments read, and answers cut down to the selection set asked for.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use apollo_compiler::ast::Value as GqlValue;
use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::request::coerce_variable_values;
use apollo_compiler::response::JsonMap;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use serde_json::{Map, Value};

/// The schema at `path`, parsed and validated once per process.
pub(crate) fn schema(path: &Path) -> Result<Arc<Valid<Schema>>, String> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Valid<Schema>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(s) = cache.lock().unwrap().get(path) {
        return Ok(Arc::clone(s));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let schema =
        Schema::parse_and_validate(text, path).map_err(|e| format!("{}: {}", path.display(), e.errors))?;
    let schema = Arc::new(schema);
    cache.lock().unwrap().insert(path.to_owned(), Arc::clone(&schema));
    Ok(schema)
}

/// One field of a selection set: its name, arguments (variables resolved)
/// and sub-selection.
#[derive(Debug, Clone)]
pub(crate) struct FieldSel {
    pub name: String,
    pub alias: Option<String>,
    pub args: Map<String, Value>,
    pub selection: Vec<FieldSel>,
}

/// A request the schema accepts: its root fields.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub fields: Vec<FieldSel>,
}

/// Validates `query` with `variables` against `schema`; what is wrong, as
/// the server would say it, when anything is.
pub(crate) fn validate(
    schema: &Valid<Schema>,
    query: &str,
    operation_name: Option<&str>,
    variables: &Value,
) -> Result<Operation, String> {
    let doc = ExecutableDocument::parse_and_validate(schema, query, "request.graphql").map_err(|e| {
        let errors: Vec<String> = e.errors.iter().map(|d| d.error.to_string()).collect();
        errors.join("; ")
    })?;
    let op = doc.operations.get(operation_name).map_err(|e| e.message().to_string())?;
    let vars: JsonMap = match variables {
        Value::Null => JsonMap::new(),
        v => serde_json::from_value(v.clone()).map_err(|e| format!("variables are not an object: {e}"))?,
    };
    let coerced = coerce_variable_values(schema, op, &vars).map_err(|e| e.message().to_string())?;
    let coerced: Value = serde_json::to_value(&*coerced).expect("JSON converts");
    Ok(Operation { fields: fields(&op.selection_set, &coerced)? })
}

fn fields(set: &SelectionSet, vars: &Value) -> Result<Vec<FieldSel>, String> {
    set.selections
        .iter()
        .map(|s| match s {
            Selection::Field(f) => Ok(FieldSel {
                name: f.name.to_string(),
                alias: f.alias.as_ref().map(|a| a.to_string()),
                args: f.arguments.iter().map(|a| (a.name.to_string(), literal(&a.value, vars))).collect(),
                selection: fields(&f.selection_set, vars)?,
            }),
            _ => Err("the fake Linear does not serve fragments".to_owned()),
        })
        .collect()
}

/// A GraphQL value as JSON, variables replaced by their (coerced) values.
fn literal(v: &Node<GqlValue>, vars: &Value) -> Value {
    match v.as_ref() {
        GqlValue::Null => Value::Null,
        GqlValue::Enum(n) => Value::String(n.to_string()),
        GqlValue::Variable(n) => vars.get(n.as_str()).cloned().unwrap_or(Value::Null),
        GqlValue::String(s) => Value::String(s.clone()),
        GqlValue::Float(f) => f.try_to_f64().map_or(Value::Null, |f| serde_json::json!(f)),
        GqlValue::Int(i) => i.as_str().parse::<i64>().map_or(Value::Null, |i| serde_json::json!(i)),
        GqlValue::Boolean(b) => Value::Bool(*b),
        GqlValue::List(items) => Value::Array(items.iter().map(|i| literal(i, vars)).collect()),
        GqlValue::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.to_string(), literal(v, vars))).collect())
        }
    }
}

/// `full` cut down to `selection`, as a GraphQL server answers.
pub(crate) fn project(full: &Value, selection: &[FieldSel]) -> Value {
    match full {
        Value::Array(items) => Value::Array(items.iter().map(|i| project(i, selection)).collect()),
        Value::Object(o) if !selection.is_empty() => {
            let mut out = Map::new();
            for f in selection {
                let v = o.get(&f.name).map_or(Value::Null, |v| project(v, &f.selection));
                out.insert(f.alias.clone().unwrap_or_else(|| f.name.clone()), v);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
