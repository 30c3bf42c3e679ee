//! The JSON parser through the public API: framing, update formats, key matching, errors and config checks.

use sluice_data::{Field, Relation, Row, SqlType, Value};
use sluice_formats::{build_parser, ParseError};
use sluice_types::{FormatConfig, JsonEncoderConfig, JsonFlavor, JsonUpdateFormat};

fn config(update_format: JsonUpdateFormat, array: bool) -> FormatConfig {
    FormatConfig::Json(JsonEncoderConfig {
        update_format,
        array,
        ..JsonEncoderConfig::default()
    })
}

/// `id BIGINT NOT NULL, name VARCHAR NULL`.
fn people() -> Relation {
    Relation::new(
        "people",
        vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("name", SqlType::varchar(), true),
        ],
    )
}

fn person(id: i64, name: Option<&str>) -> Row {
    Row(vec![Value::BigInt(id), name.into()])
}

fn parse(
    format: FormatConfig,
    table: &Relation,
    input: &str,
) -> (Vec<(Row, i64)>, Vec<ParseError>) {
    let mut parser = build_parser(&format, table).unwrap();
    let mut out = Vec::new();
    let errors = parser.parse(input.as_bytes(), &mut out);
    (out, errors)
}

fn ndjson(input: &str) -> (Vec<(Row, i64)>, Vec<ParseError>) {
    parse(
        config(JsonUpdateFormat::InsertDelete, false),
        &people(),
        input,
    )
}

#[test]
fn insert_delete_ndjson_with_blank_lines_and_several_values_per_line() {
    let input = "{\"insert\": {\"id\": 1, \"name\": \"a\"}}\n\n  \r\n{\"delete\": {\"id\": 2, \"name\": null}} {\"insert\": {\"id\": 3}}\n";
    let (out, errors) = ndjson(input);
    assert_eq!(errors, vec![]);
    assert_eq!(
        out,
        vec![
            (person(1, Some("a")), 1),
            (person(2, None), -1),
            (person(3, None), 1)
        ]
    );
}

#[test]
fn an_item_with_delete_and_insert_is_a_delete_then_an_insert() {
    let (out, errors) = ndjson(r#"{"insert": {"id": 1}, "delete": {"id": 0}}"#);
    assert_eq!(errors, vec![]);
    assert_eq!(out, vec![(person(0, None), -1), (person(1, None), 1)]);
}

#[test]
fn malformed_line_in_the_middle_costs_only_its_record() {
    let input =
        "{\"insert\": {\"id\": 1}}\n{\"insert\": {\"id\": 2,}}\n{\"insert\": {\"id\": 3}}\n";
    let (out, errors) = ndjson(input);
    assert_eq!(out, vec![(person(1, None), 1), (person(3, None), 1)]);
    assert_eq!(
        errors,
        vec![ParseError {
            index: 1,
            line: Some(2),
            message: "table 'people', record 2 at line 2: malformed JSON at line 2 column 21: key must be a string".into(),
        }]
    );
}

#[test]
fn unclosed_object_is_reported_and_the_next_line_still_parses() {
    let (out, errors) = ndjson("{\"insert\": {\"id\": 1}\n{\"insert\": {\"id\": 2}}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].index, errors[0].line), (0, Some(1)));
    assert!(
        errors[0]
            .message
            .starts_with("table 'people', record 1 at line 1: malformed JSON at line 2"),
        "{}",
        errors[0].message
    );
    assert_eq!(out, vec![(person(2, None), 1)]);
}

#[test]
fn array_mode_reads_one_array_and_keeps_items_before_a_syntax_error() {
    let format = || config(JsonUpdateFormat::InsertDelete, true);
    let input = "[{\"insert\": {\"id\": 1}},\n {\"delete\": {\"id\": 2}}]\n";
    assert_eq!(
        parse(format(), &people(), input),
        (vec![(person(1, None), 1), (person(2, None), -1)], vec![])
    );
    assert_eq!(parse(format(), &people(), " \n"), (vec![], vec![]));
    assert_eq!(parse(format(), &people(), "[]"), (vec![], vec![]));

    let (out, errors) = parse(
        format(),
        &people(),
        "[{\"insert\": {\"id\": 1}},\n {\"insert\": {\"id\": x}}]",
    );
    assert_eq!(out, vec![(person(1, None), 1)]);
    assert_eq!(
        errors,
        vec![ParseError {
            index: 1,
            line: Some(2),
            message: "table 'people', record 2 at line 2: malformed JSON at line 2 column 20: expected value".into(),
        }]
    );

    let (_, errors) = parse(format(), &people(), r#"{"insert": {"id": 1}}"#);
    assert_eq!(
        errors[0].message,
        "table 'people', record 1 at line 1: unexpected JSON at line 1 column 1: invalid type: map, expected an \
         array of records (the format has array: true)"
    );
}

#[test]
fn array_items_report_their_own_index_and_line() {
    let input = "[\n{\"insert\": {\"id\": 1}},\n{\"insert\": {\"id\": \"two\"}},\n{\"insert\": {\"id\": 3}}\n]";
    let (out, errors) = parse(
        config(JsonUpdateFormat::InsertDelete, true),
        &people(),
        input,
    );
    assert_eq!(out, vec![(person(1, None), 1), (person(3, None), 1)]);
    assert_eq!((errors[0].index, errors[0].line), (1, Some(3)));
}

#[test]
fn raw_records_are_inserts() {
    let (out, errors) = parse(
        config(JsonUpdateFormat::Raw, false),
        &people(),
        "{\"id\": 1}\n{\"id\": 2, \"name\": \"b\"}",
    );
    assert_eq!(errors, vec![]);
    assert_eq!(out, vec![(person(1, None), 1), (person(2, Some("b")), 1)]);
}

#[test]
fn weighted_items_carry_their_weight_and_zero_changes_nothing() {
    let input = r#"{"weight": 3, "data": {"id": 1}} {"weight": -2, "data": {"id": 2}} {"weight": 0, "data": {"id": 3}}"#;
    let (out, errors) = parse(config(JsonUpdateFormat::Weighted, false), &people(), input);
    assert_eq!(errors, vec![]);
    assert_eq!(out, vec![(person(1, None), 3), (person(2, None), -2)]);

    let bad = r#"{"weight": 1.5, "data": {"id": 1}}
{"data": {"id": 1}}"#;
    let (out, errors) = parse(config(JsonUpdateFormat::Weighted, false), &people(), bad);
    assert_eq!(out, vec![]);
    let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "table 'people', record 1 at line 1: weight: expected an integer, found 1.5",
            r#"table 'people', record 2 at line 2: expected {"weight": w, "data": {...}} (update_format 'weighted'), found {"data": {"id": 1}}"#,
        ]
    );
}

#[test]
fn update_needs_a_primary_key_and_bare_records_need_raw() {
    let (out, errors) = ndjson("{\"update\": {\"id\": 1}}\n{\"id\": 1}");
    assert_eq!(out, vec![]);
    assert_eq!(
        errors[0].message,
        "table 'people', record 1 at line 1: an 'update' needs a table with a PRIMARY KEY, and this table has \
         none; send a 'delete' of the old row and an 'insert' of the new one instead"
    );
    assert_eq!(
        errors[1].message,
        "table 'people', record 2 at line 2: expected {\"insert\": {...}} or {\"delete\": {...}} (update_format \
         'insert_delete'), found {\"id\": 1}; to send bare records use update_format 'raw'"
    );
}

#[test]
fn missing_not_null_column_is_an_error_and_missing_nullable_is_null() {
    let (out, errors) = ndjson(r#"{"insert": {"name": "a"}}"#);
    assert_eq!(out, vec![]);
    assert_eq!(
        errors[0].message,
        "table 'people', record 1 at line 1: column 'id' (BIGINT NOT NULL): missing from the record"
    );
    assert_eq!(
        ndjson(r#"{"insert": {"id": 5, "extra": [1]}}"#).0,
        vec![(person(5, None), 1)]
    );
}

#[test]
fn keys_match_exactly_first_then_case_insensitively() {
    assert_eq!(
        ndjson(r#"{"insert": {"ID": 1, "Name": "x"}}"#).0,
        vec![(person(1, Some("x")), 1)]
    );
    let table = Relation::new(
        "t",
        vec![
            Field::new("a", SqlType::Int, true),
            Field::new("A", SqlType::Int, true),
        ],
    );
    let (out, _) = parse(
        config(JsonUpdateFormat::Raw, false),
        &table,
        r#"{"A": 2, "a": 1}"#,
    );
    assert_eq!(out[0].0, Row(vec![Value::Int(1), Value::Int(2)]));
    let people = people();
    let (out, _) = parse(
        config(JsonUpdateFormat::Raw, false),
        &people,
        r#"{"id": 1, "ID": 2}"#,
    );
    assert_eq!(
        out[0].0,
        person(1, None),
        "the exact key wins over a later case-insensitive one"
    );
}

#[test]
fn output_only_settings_are_config_errors() {
    let err = build_parser(&config(JsonUpdateFormat::Debezium, false), &people())
        .err()
        .unwrap();
    assert_eq!(err.field, "format.config.update_format");
    let flavored = FormatConfig::Json(JsonEncoderConfig {
        json_flavor: Some(JsonFlavor::Snowflake),
        ..JsonEncoderConfig::default()
    });
    let err = build_parser(&flavored, &people()).err().unwrap();
    assert_eq!(err.to_string(), "format.config.json_flavor: 'snowflake' is not supported for input; remove json_flavor or set it to 'default'");
}

#[test]
fn a_value_may_span_lines_and_an_empty_chunk_has_no_records() {
    let (out, errors) = ndjson(
        "{\"insert\": {\n  \"id\": 1,\n  \"name\": \"a\"\n}}\n{\"insert\": {\"id\": \"x\"}}",
    );
    assert_eq!(out, vec![(person(1, Some("a")), 1)]);
    assert_eq!((errors[0].index, errors[0].line), (1, Some(5)));
    assert_eq!(ndjson(""), (vec![], vec![]));
    assert_eq!(ndjson("\n \n"), (vec![], vec![]));
}

#[test]
fn weighted_refuses_unknown_members_and_weights_beyond_64_bits() {
    let input = r#"{"weight": 1, "data": {"id": 1}, "extra": 0}
{"weight": 9223372036854775808, "data": {"id": 1}}"#;
    let (out, errors) = parse(config(JsonUpdateFormat::Weighted, false), &people(), input);
    assert_eq!(out, vec![]);
    let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            r#"table 'people', record 1 at line 1: expected {"weight": w, "data": {...}} (update_format 'weighted'), found a member "extra""#,
            "table 'people', record 2 at line 2: weight: expected an integer from -9223372036854775808 to \
             9223372036854775807, found 9223372036854775808",
        ]
    );
}

#[test]
fn a_bad_record_in_an_item_with_insert_and_delete_drops_both() {
    let (out, errors) = ndjson(r#"{"delete": {"id": 1}, "insert": {"id": "x"}}"#);
    assert_eq!(out, vec![]);
    assert_eq!(
        errors[0].message,
        r#"table 'people', record 1 at line 1: column 'id' (BIGINT NOT NULL): expected an integer, found "x""#
    );
}
