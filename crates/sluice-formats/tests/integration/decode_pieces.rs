//! One input parsed piece by piece ([`Pieces`], as HTTP ingress reads a body) gives exactly the records and the
//! errors (index, line, message) of parsing it whole, wherever the network cuts it and however small the pieces:
//! JSON values spread over lines, strings holding escaped line breaks, malformed lines; CSV quoted fields holding
//! line breaks, delimiters and `""`, CRLF, a header, bad field counts.

use proptest::prelude::*;
use sluice_data::{Field, Relation, Row, SqlType};
use sluice_formats::{build_parser, ParseError, Pieces};
use sluice_types::{CsvEncoderConfig, FormatConfig, JsonEncoderConfig};

/// `id BIGINT NOT NULL, s VARCHAR NULL`.
fn table() -> Relation {
    Relation::new(
        "t",
        vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("s", SqlType::varchar(), true),
        ],
    )
}

type Parsed = (Vec<(Row, i64)>, Vec<ParseError>);

fn whole(format: &FormatConfig, input: &[u8]) -> Parsed {
    let mut out = Vec::new();
    let errors = build_parser(format, &table())
        .unwrap()
        .parse(input, &mut out);
    (out, errors)
}

/// Feeds `input` in slices of the given sizes (cycled), parsing in pieces of `piece` bytes.
fn in_pieces(format: &FormatConfig, input: &[u8], slices: &[usize], piece: usize) -> Parsed {
    let mut pieces = Pieces::new(build_parser(format, &table()).unwrap(), piece);
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let mut rest = input;
    for &n in slices.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at(n.min(rest.len()));
        pieces.push(now, &mut out, &mut errors);
        rest = later;
    }
    pieces.finish(&mut out, &mut errors);
    (out, errors)
}

fn json_item() -> impl Strategy<Value = String> {
    (0i64..1000, 0usize..8).prop_map(|(id, kind)| match kind {
        0 => format!(r#"{{"insert": {{"id": {id}, "s": "a"}}}}"#),
        1 => format!("{{\n  \"delete\": {{\n    \"id\": {id},\n    \"s\": null\n  }}\n}}"),
        2 => format!(r#"{{"insert": {{"id": {id}, "s": "two\nlines, \"quoted\""}}}}"#),
        3 => r#"{"insert": {"id": "ten", "s": "bad value"}}"#.to_string(),
        4 => r#"{"insert": {"id": 1, "s": "cut"#.to_string(),
        5 => String::new(),
        6 => format!(
            r#"{{"insert": {{"id": {id}}}}}   {{"insert": {{"id": {}}}}}"#,
            id + 1
        ),
        _ => format!(r#"{{"insert": {{"id": {id}, "s": "ünïcode ✓"}}}}"#),
    })
}

fn csv_record() -> impl Strategy<Value = String> {
    (0i64..1000, 0usize..7).prop_map(|(id, kind)| match kind {
        0 => format!("{id},plain"),
        1 => format!("{id},\"with\nbreak\""),
        2 => format!("{id},\"comma, and \"\"quote\"\"\""),
        3 => format!("{id},"),
        4 => format!("{id},a,b,c"),
        5 => String::new(),
        _ => format!("{id},\"crlf\r\ninside\"\r"),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn json_in_pieces_parses_as_whole(
        items in prop::collection::vec(json_item(), 0..40),
        slices in prop::collection::vec(1usize..97, 1..8),
        piece in 1usize..200,
    ) {
        let input = items.join("\n");
        let format = FormatConfig::Json(JsonEncoderConfig::default());
        prop_assert_eq!(in_pieces(&format, input.as_bytes(), &slices, piece), whole(&format, input.as_bytes()));
    }

    #[test]
    fn csv_in_pieces_parses_as_whole(
        records in prop::collection::vec(csv_record(), 0..40),
        slices in prop::collection::vec(1usize..97, 1..8),
        piece in 1usize..200,
        header in any::<bool>(),
    ) {
        let body = records.join("\n");
        let input = if header { format!("id,s\n{body}") } else { body };
        let format = FormatConfig::Csv(CsvEncoderConfig { header, ..CsvEncoderConfig::default() });
        prop_assert_eq!(in_pieces(&format, input.as_bytes(), &slices, piece), whole(&format, input.as_bytes()));
    }

    #[test]
    fn a_json_array_is_parsed_whole_at_the_end(
        n in 0i64..50,
        slices in prop::collection::vec(1usize..97, 1..8),
    ) {
        let items: Vec<String> = (0..n).map(|id| format!(r#"{{"insert": {{"id": {id}}}}}"#)).collect();
        let input = format!("[{}]", items.join(",\n"));
        let format = FormatConfig::Json(JsonEncoderConfig { array: true, ..JsonEncoderConfig::default() });
        let parsed = in_pieces(&format, input.as_bytes(), &slices, 16);
        prop_assert_eq!(parsed.0.len() as i64, n);
        prop_assert_eq!(parsed, whole(&format, input.as_bytes()));
    }
}

/// What is held while reading is a piece, not the input: after a megabyte of records fed in 4 KiB slices, less
/// than two pieces of text wait.
#[test]
fn pieces_hold_little_text() {
    let format = FormatConfig::Json(JsonEncoderConfig::default());
    let mut pieces = Pieces::new(build_parser(&format, &table()).unwrap(), 64 * 1024);
    let line = "{\"insert\": {\"id\": 1, \"s\": \"some text\"}}\n";
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let mut most = 0;
    for _ in 0..(1 << 20) / 4096 {
        pieces.push(
            line.repeat(4096 / line.len()).as_bytes(),
            &mut out,
            &mut errors,
        );
        most = most.max(pieces.pending_bytes());
    }
    pieces.finish(&mut out, &mut errors);
    assert!(errors.is_empty());
    assert!(out.len() > 20_000);
    assert!(most < 2 * 64 * 1024, "{most} bytes waited");
}
