//! A row as a JSON object of some of its columns, with the `"name":` texts prepared once per encoder.

use sluice_data::{Field, Row};

use crate::error::Mismatch;
use crate::text::write_json_string;
use crate::visit::write_column;

use super::values::JsonWriter;

/// Index into the insert/delete pairs of texts the formats prepare: 0 for an insert, 1 for a delete. Here, below
/// the encoder and its record-per-message formats, so that they share it without importing each other.
pub(super) fn polarity(insert: bool) -> usize {
    usize::from(!insert)
}

/// One member of the object: the column it shows and its `,"name":` text.
#[derive(Clone, Debug)]
struct Member {
    index: usize,
    field: Field,
    /// `,"name":`; the comma is skipped for the first member.
    name: Vec<u8>,
}

/// Writes chosen columns of rows as JSON objects in one flavor.
#[derive(Clone, Debug)]
pub(crate) struct ObjectWriter {
    writer: JsonWriter,
    members: Vec<Member>,
}

impl ObjectWriter {
    /// An object of the columns at `indices` of `fields`, in that order.
    pub fn new(
        fields: &[Field],
        indices: impl IntoIterator<Item = usize>,
        writer: JsonWriter,
    ) -> Self {
        let members = indices
            .into_iter()
            .map(|index| {
                let mut name = vec![b','];
                write_json_string(&mut name, &fields[index].name);
                name.push(b':');
                Member {
                    index,
                    field: fields[index].clone(),
                    name,
                }
            })
            .collect();
        ObjectWriter { writer, members }
    }

    /// Writes `{` and the members, without the closing `}` so that callers may append more members. On a type
    /// error, returns the column at fault; `out` then holds a partial object.
    pub fn write_open(&self, out: &mut Vec<u8>, row: &Row) -> Result<(), (&str, Mismatch)> {
        out.push(b'{');
        for (n, m) in self.members.iter().enumerate() {
            out.extend_from_slice(if n == 0 { &m.name[1..] } else { &m.name });
            write_column(&self.writer, out, row, m.index, &m.field)
                .map_err(|e| (m.field.name.as_str(), e))?;
        }
        Ok(())
    }

    /// Writes the whole object.
    pub fn write(&self, out: &mut Vec<u8>, row: &Row) -> Result<(), (&str, Mismatch)> {
        self.write_open(out, row)?;
        out.push(b'}');
        Ok(())
    }

    /// A lower bound on the object's length: braces, names, and one byte per value.
    pub fn min_len(&self) -> usize {
        let names: usize = self.members.iter().map(|m| m.name.len()).sum();
        2 + names.saturating_sub(1) + self.members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_data::{SqlType, Value};
    use sluice_types::JsonFlavor;

    fn fields() -> Vec<Field> {
        vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("na\"me", SqlType::varchar(), true),
        ]
    }

    fn written(object: &ObjectWriter, row: &Row) -> String {
        let mut out = Vec::new();
        object.write(&mut out, row).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn objects_list_the_chosen_columns_in_the_given_order() {
        let writer = JsonWriter::new(JsonFlavor::Default);
        let row = Row(vec![Value::BigInt(7), Value::Null]);
        let object = ObjectWriter::new(&fields(), 0..2, writer);
        assert_eq!(written(&object, &row), r#"{"id":7,"na\"me":null}"#);
        assert_eq!(object.min_len(), r#"{"id":7,"na\"me":0}"#.len());
        let reversed = ObjectWriter::new(&fields(), [1, 0], writer);
        assert_eq!(written(&reversed, &row), r#"{"na\"me":null,"id":7}"#);
        let empty = ObjectWriter::new(&fields(), [], writer);
        assert_eq!(written(&empty, &row), "{}");
        assert_eq!(empty.min_len(), 2);
    }

    #[test]
    fn a_type_error_names_its_column() {
        let object = ObjectWriter::new(&fields(), 0..2, JsonWriter::new(JsonFlavor::Default));
        let bad = Row(vec![Value::BigInt(7), Value::Int(1)]);
        let mut out = Vec::new();
        let (column, m) = object.write(&mut out, &bad).unwrap_err();
        assert_eq!(
            (column, m.expected.as_str(), m.found),
            ("na\"me", "VARCHAR", "an INT")
        );
    }
}
