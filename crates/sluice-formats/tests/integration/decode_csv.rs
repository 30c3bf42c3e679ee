//! The CSV parser through the public API: quoting, NULL versus the empty string, delimiter, header, weights
//! and field counts.

use sluice_data::{Decimal, Field, Relation, Row, SqlType, Value};
use sluice_formats::{build_parser, ParseError};
use sluice_types::{CsvEncoderConfig, FormatConfig};

/// `id BIGINT NOT NULL, s VARCHAR NULL, d DECIMAL(6, 2) NULL`.
fn table() -> Relation {
    Relation::new(
        "t",
        vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("s", SqlType::varchar(), true),
            Field::new(
                "d",
                SqlType::Decimal {
                    precision: 6,
                    scale: 2,
                },
                true,
            ),
        ],
    )
}

fn row(id: i64, s: Option<&str>, d: Option<i128>) -> Row {
    let d = d.map_or(Value::Null, |m| Value::Decimal(Decimal::new(m, 2).unwrap()));
    Row(vec![Value::BigInt(id), s.into(), d])
}

fn parse_with(config: CsvEncoderConfig, input: &str) -> (Vec<(Row, i64)>, Vec<ParseError>) {
    let mut parser = build_parser(&FormatConfig::Csv(config), &table()).unwrap();
    let mut out = Vec::new();
    let errors = parser.parse(input.as_bytes(), &mut out);
    (out, errors)
}

fn parse(input: &str) -> (Vec<(Row, i64)>, Vec<ParseError>) {
    parse_with(CsvEncoderConfig::default(), input)
}

fn messages(errors: &[ParseError]) -> Vec<&str> {
    errors.iter().map(|e| e.message.as_str()).collect()
}

#[test]
fn records_with_and_without_a_weight() {
    let (out, errors) = parse("1,a,1.5\n2,b,2.25,-3\n3,c,0,0\n");
    assert_eq!(errors, vec![]);
    assert_eq!(
        out,
        vec![
            (row(1, Some("a"), Some(150)), 1),
            (row(2, Some("b"), Some(225)), -3)
        ]
    );
}

#[test]
fn empty_unquoted_field_is_null_and_quoted_empty_is_the_empty_string() {
    let (out, errors) = parse("1,,\n2,\"\",\n");
    assert_eq!(errors, vec![]);
    assert_eq!(
        out,
        vec![(row(1, None, None), 1), (row(2, Some(""), None), 1)]
    );
}

#[test]
fn quotes_hold_delimiters_line_breaks_and_doubled_quotes() {
    let (out, errors) = parse("1,\"a,b\"\"c\"\"\r\nd\",,1\r\n2, x ,\n");
    assert_eq!(errors, vec![]);
    assert_eq!(
        out,
        vec![
            (row(1, Some("a,b\"c\"\r\nd"), None), 1),
            (row(2, Some(" x "), None), 1)
        ]
    );
}

#[test]
fn a_record_spanning_lines_moves_the_line_count() {
    let (_, errors) = parse("1,\"x\ny\",\nbad,,\n");
    assert_eq!(
        errors,
        vec![ParseError {
            index: 1,
            line: Some(3),
            message: r#"table 't', record 2 at line 3: column 'id' (BIGINT NOT NULL): expected an integer, found "bad""#.into(),
        }]
    );
}

#[test]
fn the_configured_delimiter_separates_fields() {
    let config = CsvEncoderConfig {
        delimiter: ';',
        ..CsvEncoderConfig::default()
    };
    let (out, errors) = parse_with(config, "1;a,b;\n");
    assert_eq!(errors, vec![]);
    assert_eq!(out, vec![(row(1, Some("a,b"), None), 1)]);
}

#[test]
fn header_skips_the_first_line_of_each_chunk() {
    let config = CsvEncoderConfig {
        header: true,
        ..CsvEncoderConfig::default()
    };
    let (out, errors) = parse_with(config, "id,s,d,__weight\n1,a,,1\n");
    assert_eq!(errors, vec![]);
    assert_eq!(out, vec![(row(1, Some("a"), None), 1)]);
}

#[test]
fn blank_lines_are_skipped_and_do_not_count_as_records() {
    let (out, errors) = parse("\n1,,\n\r\n\nx,,\n");
    assert_eq!(out, vec![(row(1, None, None), 1)]);
    assert_eq!((errors[0].index, errors[0].line), (1, Some(5)));
}

#[test]
fn wrong_field_counts_bad_weights_and_null_in_not_null_are_errors() {
    let (out, errors) = parse("1,a\n1,a,,1,1\n1,a,,x\n,a,\n\"\",a,\n3,,12345.5\n4,,\n");
    assert_eq!(out, vec![(row(4, None, None), 1)]);
    assert_eq!(
        messages(&errors),
        vec![
            "table 't', record 1 at line 1: expected 3 fields (or 4 with a weight last), found 2",
            "table 't', record 2 at line 2: expected 3 fields (or 4 with a weight last), found 5",
            r#"table 't', record 3 at line 3: weight (field 4): expected an integer, found "x""#,
            "table 't', record 4 at line 4: column 'id' (BIGINT NOT NULL): expected an integer, found an empty field (NULL)",
            r#"table 't', record 5 at line 5: column 'id' (BIGINT NOT NULL): expected an integer, found """#,
            r#"table 't', record 6 at line 6: column 'd' (DECIMAL(6, 2)): expected a number with at most 4 digits before the decimal point, found "12345.5""#,
        ]
    );
}

#[test]
fn quote_errors_skip_to_the_next_line() {
    let (out, errors) = parse("1,\"a\"b,\n2,,\n3,\"unclosed,\n4,,\n");
    assert_eq!(out, vec![(row(2, None, None), 1), (row(4, None, None), 1)]);
    assert_eq!(
        messages(&errors),
        vec![
            "table 't', record 1 at line 1: field 2: expected a delimiter or the end of the line after the closing quote, found 'b'",
            "table 't', record 3 at line 3: a quoted field is not closed before the end of the input",
        ]
    );
}

#[test]
fn every_type_reads_its_encoder_text() {
    let types = vec![
        Field::new("b", SqlType::Boolean, false),
        Field::new("f", SqlType::Double, false),
        Field::new("r", SqlType::Real, false),
        Field::new("dt", SqlType::Date, false),
        Field::new("tm", SqlType::Time, false),
        Field::new("ts", SqlType::Timestamp, false),
        Field::new("bin", SqlType::Varbinary { length: None }, false),
        Field::new(
            "arr",
            SqlType::Array {
                element: Box::new(SqlType::Int),
                element_nullable: true,
            },
            false,
        ),
    ];
    let table = Relation::new("all", types);
    let mut parser = build_parser(&FormatConfig::Csv(CsvEncoderConfig::default()), &table).unwrap();
    let mut out = Vec::new();
    let line =
        "true,-inf,0.1,2023-09-28,23:21:15.123,2018-06-20 13:37:03.5,00ab1f,\"[1,null]\",2\n";
    let errors = parser.parse(line.as_bytes(), &mut out);
    assert_eq!(errors, vec![]);
    let values = &out[0].0 .0;
    assert_eq!(values[0], Value::Bool(true));
    assert_eq!(
        values[1],
        Value::Double(sluice_data::F64(f64::NEG_INFINITY))
    );
    assert_eq!(values[2], Value::Real(sluice_data::F32(0.1)));
    assert_eq!(values[3], Value::Date(19_628));
    assert_eq!(values[4], Value::Time(84_075_123_000_000));
    assert_eq!(values[5], Value::Timestamp(1_529_501_823_500_000));
    assert_eq!(values[6], Value::Bytes(vec![0, 0xab, 0x1f]));
    assert_eq!(values[7], Value::Array(vec![Value::Int(1), Value::Null]));
    assert_eq!(out[0].1, 2);

    let errors = parser.parse(b"yes,x,1,2023-9-1,1:00,2018,0g,[1\n", &mut Vec::new());
    assert_eq!(
        messages(&errors),
        vec![
            r#"table 'all', record 1 at line 1: column 'b' (BOOLEAN NOT NULL): expected true or false, found "yes""#
        ]
    );
    let errors = parser.parse(
        b"true,1,1,2023-09-28,01:00:00,2018-06-20 13:37:03,0g,[]\n",
        &mut Vec::new(),
    );
    assert!(messages(&errors)[0].ends_with(r#"column 'bin' (VARBINARY NOT NULL): expected hexadecimal digits, two per byte, found "0g""#));
    let errors = parser.parse(
        b"true,1,1,2023-09-28,01:00:00,2018-06-20 13:37:03,\"\",[1\n",
        &mut Vec::new(),
    );
    assert!(messages(&errors)[0].contains(r#"column 'arr' (INT ARRAY NOT NULL): expected a JSON array, found "[1" (malformed JSON"#), "{errors:?}");
}

#[test]
fn invalid_utf8_and_empty_chunks() {
    let mut parser =
        build_parser(&FormatConfig::Csv(CsvEncoderConfig::default()), &table()).unwrap();
    let mut out = Vec::new();
    let errors = parser.parse(b"1,\xff,\n2,,", &mut out);
    assert_eq!(out, vec![(row(2, None, None), 1)]);
    assert_eq!(
        messages(&errors),
        vec!["table 't', record 1 at line 1: field 2 is not valid UTF-8"]
    );
    assert_eq!(parse(""), (vec![], vec![]));
    assert_eq!(parse("\n\n"), (vec![], vec![]));
}
