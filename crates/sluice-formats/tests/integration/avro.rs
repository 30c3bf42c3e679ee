//! Avro output, read back with the `apache-avro` crate (an independent implementation of the specification): the
//! generated schemas parse, every type's values decode to what the view holds, the Confluent header carries the
//! configured ids, `confluent_jdbc` folds a key's changes into one message with tombstones for deletes, and a given
//! schema is checked against the view.

use std::collections::BTreeMap;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use apache_avro::{Decimal, Schema};
use serde_json::json;
use sluice_data::{Field, Relation, Row, SqlType, Value, F32, F64};
use sluice_formats::{
    avro_schemas, build_avro_parser, build_encoder, BatchInfo, EncodedMessage, MessageLimits,
};
use sluice_types::{AvroEncoderConfig, FormatConfig};

use crate::common::{encode, LARGE};

/// A view with a column of every type Avro output maps.
fn wide_view() -> Relation {
    Relation::new(
        "wide",
        vec![
            Field::new("id", SqlType::BigInt, false),
            Field::new("flag", SqlType::Boolean, true),
            Field::new("small", SqlType::SmallInt, false),
            Field::new("n", SqlType::Int, true),
            Field::new("r", SqlType::Real, false),
            Field::new("d", SqlType::Double, false),
            Field::new(
                "price",
                SqlType::Decimal {
                    precision: 10,
                    scale: 2,
                },
                true,
            ),
            Field::new("s", SqlType::varchar(), false),
            Field::new("day", SqlType::Date, false),
            Field::new("t", SqlType::Time, false),
            Field::new("ts", SqlType::Timestamp, true),
            Field::new("bin", SqlType::Varbinary { length: None }, false),
            Field::new(
                "list",
                SqlType::Array {
                    element: Box::new(SqlType::Int),
                    element_nullable: true,
                },
                false,
            ),
            Field::new(
                "tags",
                SqlType::Map {
                    key: Box::new(SqlType::varchar()),
                    value: Box::new(SqlType::BigInt),
                    value_nullable: false,
                },
                false,
            ),
        ],
    )
}

fn wide_row(id: i64, nulls: bool) -> Row {
    let or_null = |v: Value| if nulls { Value::Null } else { v };
    Row(vec![
        Value::BigInt(id),
        or_null(Value::Bool(true)),
        Value::SmallInt(-3),
        or_null(Value::Int(70_000)),
        Value::Real(F32(1.5)),
        Value::Double(F64(-2.25)),
        or_null(Value::Decimal("12.34".parse().unwrap())),
        Value::String("héllo".into()),
        Value::Date(19_000),
        Value::Time(3_723_000_001_000),
        or_null(Value::Timestamp(1_700_000_000_123_456)),
        Value::Bytes(vec![0, 255, 7]),
        Value::Array(vec![Value::Int(1), Value::Null, Value::Int(-5)]),
        Value::Map(BTreeMap::from([
            (Value::String("a".into()), Value::BigInt(1)),
            (Value::String("b".into()), Value::BigInt(-2)),
        ])),
    ])
}

/// What `apache-avro` decodes [`wide_row`] to.
fn wide_avro(id: i64, nulls: bool) -> Vec<(String, Avro)> {
    let union = |v: Avro| {
        if nulls {
            Avro::Union(0, Box::new(Avro::Null))
        } else {
            Avro::Union(1, Box::new(v))
        }
    };
    let fields = vec![
        ("id", Avro::Long(id)),
        ("flag", union(Avro::Boolean(true))),
        ("small", Avro::Int(-3)),
        ("n", union(Avro::Int(70_000))),
        ("r", Avro::Float(1.5)),
        ("d", Avro::Double(-2.25)),
        // 1234 as two's complement bytes.
        ("price", union(Avro::Decimal(Decimal::from([0x04, 0xd2])))),
        ("s", Avro::String("héllo".into())),
        ("day", Avro::Date(19_000)),
        ("t", Avro::TimeMicros(3_723_000_001)),
        ("ts", union(Avro::TimestampMicros(1_700_000_000_123_456))),
        ("bin", Avro::Bytes(vec![0, 255, 7])),
        (
            "list",
            Avro::Array(vec![
                Avro::Union(1, Box::new(Avro::Int(1))),
                Avro::Union(0, Box::new(Avro::Null)),
                Avro::Union(1, Box::new(Avro::Int(-5))),
            ]),
        ),
        (
            "tags",
            Avro::Map(
                [
                    ("a".to_string(), Avro::Long(1)),
                    ("b".to_string(), Avro::Long(-2)),
                ]
                .into_iter()
                .collect(),
            ),
        ),
    ];
    fields
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect()
}

/// Reads one datum written with `schema` from `reader`.
fn from_avro_datum(
    schema: &Schema,
    reader: &mut &[u8],
    _: Option<()>,
) -> apache_avro::AvroResult<Avro> {
    GenericDatumReader::builder(schema)
        .build()?
        .read_value(reader)
}

fn config(v: serde_json::Value) -> AvroEncoderConfig {
    serde_json::from_value(v).unwrap()
}

/// Decodes a framed datum: checks the Confluent header (magic byte 0 and `id`) and reads the rest with `schema`.
fn decode(schema: &Schema, framed: &[u8], id: u32) -> Avro {
    assert_eq!(framed[0], 0, "magic byte");
    assert_eq!(u32::from_be_bytes(framed[1..5].try_into().unwrap()), id);
    let mut rest = &framed[5..];
    let value = from_avro_datum(schema, &mut rest, None).unwrap();
    assert!(rest.is_empty(), "the datum is the whole message");
    value
}

fn op(m: &EncodedMessage) -> String {
    let h = &m.headers[0];
    assert_eq!(&*h.name, "op");
    String::from_utf8(h.value.clone().unwrap()).unwrap()
}

fn run(
    config: &AvroEncoderConfig,
    view: &Relation,
    step: u64,
    delta: &[(Row, i64)],
) -> Vec<EncodedMessage> {
    let mut enc =
        build_encoder(&FormatConfig::Avro(Box::new(config.clone())), view, LARGE).unwrap();
    enc.begin_batch(BatchInfo {
        pipeline: "p",
        step,
        snapshot: false,
    });
    let (messages, errors) = encode(enc.as_mut(), delta);
    assert!(errors.is_empty(), "{errors:?}");
    messages
}

/// Every type decodes to the row's values with the generated schema, which `apache-avro` parses; deletes and
/// copies are messages with an `op` header.
#[test]
fn raw_rows_of_every_type_decode_with_the_generated_schema() {
    let view = wide_view();
    let c = config(json!({"schema_id": 7, "namespace": "shop"}));
    let (value_schema, key_schema) = avro_schemas(&c, &view).unwrap();
    assert_eq!(key_schema, None);
    let schema = Schema::parse_str(&value_schema).unwrap();
    assert!(
        value_schema.contains(r#""namespace":"shop""#),
        "{value_schema}"
    );
    let messages = run(
        &c,
        &view,
        1,
        &[(wide_row(1, false), 2), (wide_row(2, true), -1)],
    );
    let got: Vec<(String, Avro)> = messages
        .iter()
        .map(|m| {
            assert_eq!(m.key, None);
            (op(m), decode(&schema, m.value.as_ref().unwrap(), 7))
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("delete".to_string(), Avro::Record(wide_avro(2, true))),
            ("insert".to_string(), Avro::Record(wide_avro(1, false))),
            ("insert".to_string(), Avro::Record(wide_avro(1, false))),
        ]
    );
}

fn kv_view() -> Relation {
    Relation::new(
        "totals",
        vec![
            Field::new("k", SqlType::BigInt, false),
            Field::new("total", SqlType::BigInt, true),
        ],
    )
}

fn kv(k: i64, total: i64) -> Row {
    Row(vec![Value::BigInt(k), Value::BigInt(total)])
}

/// `confluent_jdbc`: key = the key record under its own id, value = the new row or a tombstone; a key's delete and
/// insert in a step are one message; two rows with one key in a step refuse the step.
#[test]
fn confluent_jdbc_sends_one_message_per_key_with_tombstones() {
    let view = kv_view();
    let c = config(
        json!({"update_format": "confluent_jdbc", "key_fields": ["k"],
                          "schema_id": 3, "key_schema_id": 4}),
    );
    let (value_text, key_text) = avro_schemas(&c, &view).unwrap();
    let (value_schema, key_schema) = (
        Schema::parse_str(&value_text).unwrap(),
        Schema::parse_str(&key_text.unwrap()).unwrap(),
    );
    let messages = run(
        &c,
        &view,
        5,
        &[
            (kv(1, 10), -1),
            (kv(1, 11), 1),
            (kv(2, 20), -1),
            (kv(3, 30), 1),
        ],
    );
    let got: Vec<(Avro, Option<Avro>)> = messages
        .iter()
        .map(|m| {
            assert!(m.headers.is_empty());
            (
                decode(&key_schema, m.key.as_ref().unwrap(), 4),
                m.value.as_ref().map(|v| decode(&value_schema, v, 3)),
            )
        })
        .collect();
    let key = |k: i64| Avro::Record(vec![("k".into(), Avro::Long(k))]);
    let value = |k: i64, t: i64| {
        Avro::Record(vec![
            ("k".into(), Avro::Long(k)),
            ("total".into(), Avro::Union(1, Box::new(Avro::Long(t)))),
        ])
    };
    assert_eq!(
        got,
        vec![
            (key(1), Some(value(1, 11))),
            (key(2), None),
            (key(3), Some(value(3, 30))),
        ]
    );

    let mut enc = build_encoder(&FormatConfig::Avro(Box::new(c)), &view, LARGE).unwrap();
    let mut sent = 0;
    let refused = enc
        .encode(&[(kv(1, 1), 1), (kv(1, 2), 1)], &mut |_| {
            sent += 1;
            Ok(())
        })
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("inserts 2 rows with the key (1)"),
        "{refused}"
    );
    assert_eq!(sent, 0);
}

/// `skip_schema_id` writes the bare datum; a raw connector with key columns keys its messages.
#[test]
fn skip_schema_id_writes_bare_datums_and_raw_keys_are_records() {
    let view = kv_view();
    let c = config(json!({"skip_schema_id": true, "key_fields": ["k"]}));
    let (value_text, key_text) = avro_schemas(&c, &view).unwrap();
    let value_schema = Schema::parse_str(&value_text).unwrap();
    let key_schema = Schema::parse_str(&key_text.unwrap()).unwrap();
    let m = &run(&c, &view, 1, &[(kv(9, 90), 1)])[0];
    let mut v = &m.value.as_ref().unwrap()[..];
    let mut k = &m.key.as_ref().unwrap()[..];
    assert_eq!(
        from_avro_datum(&value_schema, &mut v, None).unwrap(),
        Avro::Record(vec![
            ("k".into(), Avro::Long(9)),
            ("total".into(), Avro::Union(1, Box::new(Avro::Long(90)))),
        ])
    );
    assert_eq!(
        from_avro_datum(&key_schema, &mut k, None).unwrap(),
        Avro::Record(vec![("k".into(), Avro::Long(9))])
    );
    assert!(v.is_empty() && k.is_empty());
}

/// A given schema is used as written when it fits the view (here with `long` for an INT-free view, the nullable
/// column as `[T, "null"]` and millisecond timestamps), and refused naming the field when it does not.
#[test]
fn a_given_schema_is_checked_against_the_view() {
    let view = Relation::new(
        "ev",
        vec![
            Field::new("id", SqlType::Int, false),
            Field::new("at", SqlType::Timestamp, true),
        ],
    );
    let schema = json!({"type": "record", "name": "Event", "fields": [
        {"name": "id", "type": "long"},
        {"name": "at", "type": [{"type": "long", "logicalType": "timestamp-millis"}, "null"]},
    ]});
    let c = config(json!({"schema": schema.to_string()}));
    let parsed = Schema::parse_str(&schema.to_string()).unwrap();
    let m = &run(
        &c,
        &view,
        1,
        &[(Row(vec![Value::Int(5), Value::Timestamp(1_500_999)]), 1)],
    )[0];
    assert_eq!(
        decode(&parsed, m.value.as_ref().unwrap(), 0),
        Avro::Record(vec![
            ("id".into(), Avro::Long(5)),
            (
                "at".into(),
                Avro::Union(0, Box::new(Avro::TimestampMillis(1_500)))
            ),
        ])
    );
    for (fields, says) in [
        (
            json!([{"name": "id", "type": "long"}]),
            "has 1 fields but view 'ev' has 2",
        ),
        (
            json!([{"name": "id", "type": "long"}, {"name": "when", "type": ["null", "long"]}]),
            "field 'when' stands where view 'ev' has column 'at'",
        ),
        (
            json!([{"name": "id", "type": "string"}, {"name": "at", "type": ["null", "long"]}]),
            "field 'id' has Avro type \"string\"",
        ),
        (
            json!([{"name": "id", "type": "int"}, {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}}]),
            "column 'at' may be NULL",
        ),
    ] {
        let bad = json!({"type": "record", "name": "Event", "fields": fields}).to_string();
        let limits = MessageLimits {
            max_message_bytes: 1 << 20,
        };
        let e = build_encoder(
            &FormatConfig::Avro(Box::new(config(json!({"schema": bad})))),
            &view,
            limits,
        )
        .err()
        .expect("refused");
        assert_eq!(e.field, "schema");
        assert!(e.reason.contains(says), "{says}: {e}");
    }
}

/// Names Avro cannot carry are refused with the way out, not mangled.
#[test]
fn columns_that_are_not_avro_names_are_refused() {
    let view = Relation::new("v", vec![Field::new("Unit Price", SqlType::BigInt, false)]);
    let e = avro_schemas(&config(json!({})), &view).unwrap_err();
    assert!(
        e.reason.contains("'Unit Price' is not a valid Avro name"),
        "{e}"
    );
}

/// The `(op, before, after, source.snapshot, source.step)` of a decoded Debezium envelope.
fn envelope(value: Avro) -> (String, Avro, Avro, String, i64) {
    let Avro::Record(fields) = value else {
        panic!("a record: {value:?}")
    };
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let Avro::Record(source) = field("source") else {
        panic!("source")
    };
    let source = |name: &str| source.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(source("connector"), Avro::String("sluice".into()));
    assert_eq!(source("name"), Avro::String("p".into()));
    assert_eq!(source("table"), Avro::String("totals".into()));
    assert!(matches!(field("ts_ms"), Avro::Union(1, _)));
    let (Avro::String(op), Avro::String(snapshot), Avro::Long(step)) =
        (field("op"), source("snapshot"), source("step"))
    else {
        panic!("op, snapshot and step")
    };
    (op, field("before"), field("after"), snapshot, step)
}

/// Debezium in Avro: keyed by its key columns a key's delete and insert are one `u` with both images, a delete is a
/// `d` followed by a tombstone, snapshot rows are `r`; without key columns each change is keyed by the whole row.
#[test]
fn debezium_envelopes_decode_with_the_generated_schema() {
    let view = kv_view();
    let c = config(
        json!({"update_format": "debezium", "key_fields": ["k"], "schema_id": 21, "key_schema_id": 22}),
    );
    let (value_text, key_text) = avro_schemas(&c, &view).unwrap();
    let value_schema = Schema::parse_str(&value_text).unwrap();
    let key_schema = Schema::parse_str(&key_text.unwrap()).unwrap();
    let row = |k: i64, t: i64| {
        Avro::Union(
            1,
            Box::new(Avro::Record(vec![
                ("k".into(), Avro::Long(k)),
                ("total".into(), Avro::Union(1, Box::new(Avro::Long(t)))),
            ])),
        )
    };
    let none = Avro::Union(0, Box::new(Avro::Null));
    let key = |k: i64| Avro::Record(vec![("k".into(), Avro::Long(k))]);
    let mut enc = build_encoder(&FormatConfig::Avro(Box::new(c)), &view, LARGE).unwrap();
    let mut decoded = Vec::new();
    for (step, snapshot, delta) in [
        (3, true, vec![(kv(1, 10), 1)]),
        (
            4,
            false,
            vec![(kv(1, 10), -1), (kv(1, 11), 1), (kv(2, 20), 1)],
        ),
        (5, false, vec![(kv(2, 20), -1)]),
    ] {
        enc.begin_batch(BatchInfo {
            pipeline: "p",
            step,
            snapshot,
        });
        let (messages, errors) = encode(enc.as_mut(), &delta);
        assert!(errors.is_empty(), "{errors:?}");
        for m in messages {
            let k = decode(&key_schema, m.key.as_ref().unwrap(), 22);
            decoded.push((
                k,
                m.value
                    .as_ref()
                    .map(|v| envelope(decode(&value_schema, v, 21))),
            ));
        }
    }
    let t = |s: &str| s.to_string();
    assert_eq!(
        decoded,
        vec![
            (
                key(1),
                Some((t("r"), none.clone(), row(1, 10), t("true"), 3))
            ),
            (
                key(1),
                Some((t("u"), row(1, 10), row(1, 11), t("false"), 4))
            ),
            (
                key(2),
                Some((t("c"), none.clone(), row(2, 20), t("false"), 4))
            ),
            (
                key(2),
                Some((t("d"), row(2, 20), none.clone(), t("false"), 5))
            ),
            (key(2), None),
        ]
    );

    // Keyed by the whole row: a delete and an insert stay two messages, the key is the row record.
    let whole = config(json!({"update_format": "debezium", "skip_schema_id": true}));
    let (value_text, key_text) = avro_schemas(&whole, &view).unwrap();
    let (value_schema, key_schema) = (
        Schema::parse_str(&value_text).unwrap(),
        Schema::parse_str(&key_text.unwrap()).unwrap(),
    );
    let messages = run(&whole, &view, 1, &[(kv(1, 10), -1), (kv(1, 11), 1)]);
    let ops: Vec<(Avro, Option<String>)> = messages
        .iter()
        .map(|m| {
            let mut k = &m.key.as_ref().unwrap()[..];
            let key = from_avro_datum(&key_schema, &mut k, None).unwrap();
            let op = m.value.as_ref().map(|v| {
                let mut v = &v[..];
                envelope(from_avro_datum(&value_schema, &mut v, None).unwrap()).0
            });
            (key, op)
        })
        .collect();
    let whole_key = |k: i64, t: i64| {
        Avro::Record(vec![
            ("k".into(), Avro::Long(k)),
            ("total".into(), Avro::Union(1, Box::new(Avro::Long(t)))),
        ])
    };
    assert_eq!(
        ops,
        vec![
            (whole_key(1, 10), Some(t("d"))),
            (whole_key(1, 10), None),
            (whole_key(1, 11), Some(t("c"))),
        ]
    );
}

/// Avro input reads back what the encoder wrote, every type, with the generated schema given to the parser.
#[test]
fn avro_input_reads_back_every_type() {
    let view = wide_view();
    let (schema, _) = avro_schemas(&config(json!({})), &view).unwrap();
    let rows = [wide_row(1, false), wide_row(2, true)];
    let messages = run(
        &config(json!({})),
        &view,
        1,
        &rows.iter().map(|r| (r.clone(), 1)).collect::<Vec<_>>(),
    );
    let mut parser = build_avro_parser(&config(json!({"schema": schema})), &view, None).unwrap();
    let mut out = Vec::new();
    for m in &messages {
        assert_eq!(parser.parse(m.value.as_ref().unwrap(), &mut out), vec![]);
    }
    assert_eq!(out, rows.iter().map(|r| (r.clone(), 1)).collect::<Vec<_>>());
}

/// A record written by `apache-avro` (an independent writer) with a schema that orders the union `[T, "null"]`,
/// uses `long` for an INT column and millisecond timestamps is read by name-for-name position; each id is looked up
/// once; bad messages are per-record errors naming the table and the cause.
#[test]
fn avro_input_reads_records_of_an_independent_writer_by_registry_id() {
    use apache_avro::writer::datum::GenericDatumWriter;
    let table = Relation::new(
        "ev",
        vec![
            Field::new("id", SqlType::Int, false),
            Field::new("at", SqlType::Timestamp, true),
            Field::new("tag", SqlType::varchar(), true),
        ],
    );
    let text = json!({"type": "record", "name": "Event", "fields": [
        {"name": "id", "type": "long"},
        {"name": "at", "type": [{"type": "long", "logicalType": "timestamp-millis"}, "null"]},
        {"name": "tag", "type": ["null", "string"]},
    ]})
    .to_string();
    let schema = Schema::parse_str(&text).unwrap();
    let writer = GenericDatumWriter::builder(&schema).build().unwrap();
    let datum = |id: i64, at: Option<i64>, tag: Option<&str>| {
        let at = match at {
            Some(ms) => Avro::Union(0, Box::new(Avro::TimestampMillis(ms))),
            None => Avro::Union(1, Box::new(Avro::Null)),
        };
        let tag = match tag {
            Some(t) => Avro::Union(1, Box::new(Avro::String(t.into()))),
            None => Avro::Union(0, Box::new(Avro::Null)),
        };
        let record = Avro::Record(vec![
            ("id".into(), Avro::Long(id)),
            ("at".into(), at),
            ("tag".into(), tag),
        ]);
        let mut framed = vec![0, 0, 0, 0, 42];
        framed.extend(writer.write_value_to_vec(record).unwrap());
        framed
    };
    let lookups = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = lookups.clone();
    let lookup: sluice_formats::SchemaLookup = Box::new(move |id| {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if id == 42 {
            Ok(text.clone())
        } else {
            Err(format!("the registry has no schema {id}"))
        }
    });
    let mut parser = build_avro_parser(
        &config(json!({"registry_urls": ["http://127.0.0.1:1"]})),
        &table,
        Some(lookup),
    )
    .unwrap();
    let mut out = Vec::new();
    for bytes in [datum(7, Some(1_500), Some("a")), datum(8, None, None)] {
        assert_eq!(parser.parse(&bytes, &mut out), vec![]);
    }
    assert_eq!(
        out,
        vec![
            (
                Row(vec![
                    Value::Int(7),
                    Value::Timestamp(1_500_000),
                    Value::String("a".into())
                ]),
                1
            ),
            (Row(vec![Value::Int(8), Value::Null, Value::Null]), 1),
        ]
    );
    assert_eq!(
        lookups.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "one lookup per id"
    );
    let mut too_big = datum(1 << 40, None, None);
    let mut unknown = datum(1, None, None);
    unknown[4] = 43;
    let truncated = &datum(1, None, Some("abc"))[..8];
    too_big.push(0);
    for (bytes, says) in [
        (
            &too_big[..],
            "column 'id': 1099511627776 is out of the range",
        ),
        (&unknown[..], "the registry has no schema 43"),
        (truncated, "column 'tag': the datum ends early"),
        (&[1, 2, 3][..], "no Confluent header"),
        (&[][..], "an empty message"),
    ] {
        let errors = parser.parse(bytes, &mut out);
        assert_eq!(errors.len(), 1, "{says}");
        assert!(
            errors[0].message.starts_with("table 'ev': Avro record: ")
                && errors[0].message.contains(says),
            "{says}: {}",
            errors[0].message
        );
    }
    assert_eq!(out.len(), 2, "no bad record was added");
}
