//! Values spelled as plain text: a CSV field before quoting, a text key (`key_format: "text"`), a header value.
//! Strings as they are, DECIMAL with its declared fractional digits, floats that are not finite as `NaN`, `inf`,
//! `-inf`, dates and times ISO, binary as lowercase hex, ARRAY and MAP as their `default`-flavor JSON text.

use std::collections::BTreeMap;

use sluice_data::{Decimal, SqlType, Value};
use sluice_types::JsonFlavor;

use crate::error::Mismatch;
use crate::json::values::JsonWriter;
use crate::text::{write_decimal, write_finite_float, write_hex};
use crate::time::{write_date, write_time, write_timestamp};
use crate::visit::ValueWriter;

/// Spells values as CSV fields, before quoting; also the text of text keys and header values.
pub(crate) struct CsvWriter;

impl CsvWriter {
    fn non_finite(out: &mut Vec<u8>, nan: bool, negative: bool) {
        out.extend_from_slice(match (nan, negative) {
            (true, _) => b"NaN",
            (false, false) => b"inf",
            (false, true) => b"-inf",
        });
    }
}

impl ValueWriter for CsvWriter {
    fn null(&self, _out: &mut Vec<u8>) {}

    fn real(&self, out: &mut Vec<u8>, f: f32) {
        if !write_finite_float(out, f) {
            Self::non_finite(out, f.is_nan(), f < 0.0);
        }
    }

    fn double(&self, out: &mut Vec<u8>, f: f64) {
        if !write_finite_float(out, f) {
            Self::non_finite(out, f.is_nan(), f < 0.0);
        }
    }

    fn decimal(&self, out: &mut Vec<u8>, d: &Decimal) {
        write_decimal(out, d, false);
    }

    fn string(&self, out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(s.as_bytes());
    }

    fn date(&self, out: &mut Vec<u8>, days: i32) {
        write_date(out, i64::from(days));
    }

    fn time(&self, out: &mut Vec<u8>, nanos: u64) {
        write_time(out, nanos);
    }

    fn timestamp(&self, out: &mut Vec<u8>, micros: i64) {
        write_timestamp(out, micros, b' ');
    }

    fn bytes(&self, out: &mut Vec<u8>, b: &[u8]) {
        write_hex(out, b);
    }

    fn array(
        &self,
        out: &mut Vec<u8>,
        items: &[Value],
        element: &SqlType,
        element_nullable: bool,
    ) -> Result<(), Mismatch> {
        JsonWriter::new(JsonFlavor::Default).array(out, items, element, element_nullable)
    }

    fn map(
        &self,
        out: &mut Vec<u8>,
        entries: &BTreeMap<Value, Value>,
        key: &SqlType,
        value: &SqlType,
        value_nullable: bool,
    ) -> Result<(), Mismatch> {
        JsonWriter::new(JsonFlavor::Default).map(out, entries, key, value, value_nullable)
    }
}
