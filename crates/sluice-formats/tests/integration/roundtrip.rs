//! Property tests: whatever the batch, buffer size and message limit, messages stay within the limit, parse back,
//! and carry exactly the expanded delta minus the records reported as too large.

use crate::common::*;
use proptest::prelude::*;
use serde_json::Value as Json;
use sluice_data::{Row, Value};
use sluice_formats::{build_encoder, EncodeError, EncodedMessage, MessageLimits};
use sluice_types::{CsvEncoderConfig, FormatConfig, JsonEncoderConfig, JsonUpdateFormat};

/// A decoded record of the test view with its sign: `(id, b, i, s, +1|-1)`.
type Change = (i64, bool, Option<i64>, String, i64);

fn arb_row() -> impl Strategy<Value = Row> {
    (
        any::<i64>(),
        any::<bool>(),
        any::<Option<i64>>(),
        "[ -~\n\"\\\\é,]{0,120}",
    )
        .prop_map(|(id, b, i, s)| row(id, b, i, &s))
}

fn arb_delta() -> impl Strategy<Value = Vec<(Row, i64)>> {
    prop::collection::vec((arb_row(), -3i64..=3), 0..30)
}

fn change_of(record: &Json, sign: i64) -> Change {
    (
        record["id"].as_i64().unwrap(),
        record["b"].as_bool().unwrap(),
        record["i"].as_i64(),
        record["s"].as_str().unwrap().to_string(),
        sign,
    )
}

/// Decodes one `{"insert"|"delete": record}` value.
fn decode_insert_delete(v: &Json) -> Change {
    match (v.get("insert"), v.get("delete")) {
        (Some(r), None) => change_of(r, 1),
        (None, Some(r)) => change_of(r, -1),
        _ => panic!("not an insert/delete record: {v}"),
    }
}

fn change_of_row(row: &Row, sign: i64) -> Change {
    match row.values() {
        [Value::BigInt(id), Value::Bool(b), i, Value::String(s)] => {
            let i = if let Value::BigInt(i) = i {
                Some(*i)
            } else {
                None
            };
            (*id, *b, i, s.clone(), sign)
        }
        other => panic!("not a row of the test view: {other:?}"),
    }
}

/// The expanded delta, sorted: one entry per copy.
fn expanded(delta: &[(Row, i64)]) -> Vec<Change> {
    let mut out: Vec<Change> = delta
        .iter()
        .flat_map(|(row, w)| vec![change_of_row(row, w.signum()); w.unsigned_abs() as usize])
        .collect();
    out.sort();
    out
}

/// Removes from `expected` the copies that an error reports as dropped.
fn remove_dropped(expected: &mut Vec<Change>, dropped: Vec<Change>) {
    for change in dropped {
        let at = expected
            .iter()
            .position(|c| *c == change)
            .expect("a reported record is in the delta");
        expected.remove(at);
    }
}

/// The record and copies of a [`EncodeError::RecordTooLarge`]; any other error fails the test.
fn too_large(e: &EncodeError) -> (&str, u64) {
    match e {
        EncodeError::RecordTooLarge { record, copies, .. } => (record, *copies),
        other => panic!("unexpected error {other}"),
    }
}

fn run(
    format: FormatConfig,
    limit: usize,
    delta: &[(Row, i64)],
) -> (Vec<EncodedMessage>, Vec<EncodeError>) {
    let limits = MessageLimits {
        max_message_bytes: limit,
    };
    let mut enc = build_encoder(&format, &test_view(), limits).unwrap();
    let (messages, errors) = encode(&mut *enc, delta);
    for m in &messages {
        assert!(m.size() <= limit, "message over {limit} bytes");
        assert!(m.records >= 1);
    }
    (messages, errors)
}

/// Parses a CSV line of the test view (RFC 4180 quoting) into a change, weight kept.
fn parse_csv_line(line: &str) -> (Vec<Option<String>>, i64) {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            while let Some(c) = chars.next() {
                match (c, chars.peek()) {
                    ('"', Some('"')) => {
                        chars.next();
                        field.push('"');
                    }
                    ('"', _) => break,
                    _ => field.push(c),
                }
            }
        }
        while let Some(&c) = chars.peek() {
            if c == ',' {
                break;
            }
            field.push(c);
            chars.next();
        }
        fields.push(if field.is_empty() && !quoted {
            None
        } else {
            Some(field)
        });
        if chars.next().is_none() {
            break;
        }
    }
    let weight = fields.pop().unwrap().unwrap().parse().unwrap();
    (fields, weight)
}

/// Splits a CSV message into lines, respecting quoted newlines.
fn csv_lines(message: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let (mut current, mut in_quotes) = (String::new(), false);
    for c in message.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        if c == '\n' && !in_quotes {
            lines.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    assert!(current.is_empty(), "a CSV message ends with a newline");
    lines
}

fn csv_changes(line: &str) -> Vec<Change> {
    let (f, weight) = parse_csv_line(line);
    let get = |n: usize| f[n].clone();
    let change = (
        get(0).unwrap().parse().unwrap(),
        get(1).unwrap().parse().unwrap(),
        get(2).map(|i| i.parse().unwrap()),
        get(3).expect("s is NOT NULL, so never an empty unquoted field"),
        weight.signum(),
    );
    vec![change; weight.unsigned_abs() as usize]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn json_insert_delete_round_trips(
        delta in arb_delta(), array in any::<bool>(), buffer in 1usize..5, limit in 60usize..400,
    ) {
        let format = FormatConfig::Json(JsonEncoderConfig {
            update_format: JsonUpdateFormat::InsertDelete, array, buffer_size_records: buffer,
            ..JsonEncoderConfig::default()
        });
        let (messages, errors) = run(format, limit, &delta);
        let mut decoded = Vec::new();
        for m in &messages {
            let text = text(m.value.as_ref().unwrap());
            let records: Vec<Json> = if array {
                let Json::Array(items) = serde_json::from_str(&text).unwrap() else { panic!("not an array: {text}") };
                items
            } else {
                text.split('\n').map(|line| {
                    prop_assert!(!line.is_empty(), "blank line in {:?}", text);
                    Ok(serde_json::from_str(line).unwrap())
                }).collect::<Result<_, _>>()?
            };
            prop_assert_eq!(records.len(), m.records);
            prop_assert!(m.records <= buffer);
            decoded.extend(records.iter().map(decode_insert_delete));
        }
        decoded.sort();
        let mut expected = expanded(&delta);
        for e in &errors {
            let (record, copies) = too_large(e);
            let change = decode_insert_delete(&serde_json::from_str(record).unwrap());
            remove_dropped(&mut expected, vec![change; copies as usize]);
        }
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn snowflake_round_trips_with_consecutive_sequence_numbers(delta in arb_delta(), limit in 100usize..400) {
        let format = FormatConfig::Json(JsonEncoderConfig {
            update_format: JsonUpdateFormat::Snowflake, ..JsonEncoderConfig::default()
        });
        let (messages, errors) = run(format, limit, &delta);
        let mut decoded = Vec::new();
        for (seq, m) in messages.iter().enumerate() {
            let v: Json = serde_json::from_slice(m.value.as_ref().unwrap()).unwrap();
            prop_assert_eq!(v["__seq_number"].as_u64(), Some(seq as u64));
            decoded.push(change_of(&v, if v["__action"] == "insert" { 1 } else { -1 }));
        }
        decoded.sort();
        let mut expected = expanded(&delta);
        for e in &errors {
            let (record, copies) = too_large(e);
            let v: Json = serde_json::from_str(record).unwrap();
            let change = change_of(&v, if v["__action"] == "insert" { 1 } else { -1 });
            remove_dropped(&mut expected, vec![change; copies as usize]);
        }
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn csv_round_trips(delta in arb_delta(), buffer in 1usize..5, limit in 60usize..400, header in any::<bool>()) {
        let format = FormatConfig::Csv(CsvEncoderConfig {
            buffer_size_records: buffer, header, ..CsvEncoderConfig::default()
        });
        let (messages, errors) = run(format, limit, &delta);
        let mut decoded = Vec::new();
        for m in &messages {
            let mut lines = csv_lines(&text(m.value.as_ref().unwrap()));
            if header {
                prop_assert_eq!(lines.remove(0), "id,b,i,s,__weight");
            }
            prop_assert_eq!(lines.len(), m.records);
            for line in lines {
                prop_assert!(!line.is_empty());
                decoded.extend(csv_changes(&line));
            }
        }
        decoded.sort();
        let mut expected = expanded(&delta);
        for e in &errors {
            // A CSV line carries all copies of its record.
            remove_dropped(&mut expected, csv_changes(too_large(e).0.trim_end_matches('\n')));
        }
        prop_assert_eq!(decoded, expected);
    }
}
