//! Names as SQL resolves them: identifiers and (unqualified) object names, shared by every statement kind.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

use crate::error::Unsupported;

/// An identifier as the schema spells it: unquoted ones are lower-cased, quoted ones kept.
pub fn normalize(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// A plain (unqualified) object name, normalised; qualified names are refused.
pub(crate) fn object_name(name: &ObjectName) -> Result<String, Unsupported> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(normalize)
            .ok_or_else(|| Unsupported::new(format!("invalid name {name}"))),
        _ => Err(Unsupported::new(format!(
            "qualified name {name} is not supported; use a plain name"
        ))),
    }
}
