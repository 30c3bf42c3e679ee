//! `sluice demo`: the seed document's `total-sales` connector streaming a view's changes, until the pipeline runtime exists.
//!
//! It takes the seed's connector body (with the local broker's address) or, with `--connector-file`, the connector
//! as `sluice serve` stored it, validates it as the REST API does,
//! builds the JSON encoder and the `kafka_output` endpoint from it, streams three steps of changes of a
//! `total_sales` view, waits for every acknowledgement, and reads the topic back as a consumer sees it.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use sluice_data::{Decimal, Field, Relation, Row, SqlType, Value};
use sluice_formats::{build_encoder, MessageLimits};
use sluice_transports::kafka_output::{validate_config, KafkaOutputEndpoint};
use sluice_transports::kafka_tools;
use sluice_types::{ConnectorConfig, TransportConfig};

use super::DEFAULT_BROKERS;

#[derive(clap::Args)]
pub struct Args {
    /// Broker list (host:port, comma-separated).
    #[arg(long, env = "SLUICE_KAFKA_BROKERS", default_value = DEFAULT_BROKERS)]
    brokers: String,
    /// Topic to write to (created when missing).
    #[arg(long, default_value = "total-sales")]
    topic: String,
    /// Use the connector stored by the REST API instead of the built-in copy of the seed's body: a file holding the
    /// answer of `GET /v0/connectors/total-sales` (its `config` is used; `--brokers` and `--topic` are then ignored).
    #[arg(long)]
    connector_file: Option<std::path::PathBuf>,
}

/// The `total_sales` view of the book fair: revenue per book.
fn view() -> Relation {
    Relation::new(
        "total_sales",
        vec![
            Field::new("book_id", SqlType::BigInt, false),
            Field::new("title", SqlType::varchar(), false),
            Field::new("copies", SqlType::BigInt, false),
            Field::new(
                "revenue",
                SqlType::Decimal {
                    precision: 10,
                    scale: 2,
                },
                false,
            ),
        ],
    )
}

fn row(id: i64, title: &str, copies: i64, revenue: &str) -> Result<Row> {
    Ok(Row::new(vec![
        Value::BigInt(id),
        Value::from(title),
        Value::BigInt(copies),
        Value::Decimal(revenue.parse::<Decimal>()?),
    ]))
}

/// Three steps of changes to `total_sales`: first sales, a second sale of one book (an update: delete + insert)
/// with a new book, and a refund that removes a book.
fn steps() -> Result<Vec<Vec<(Row, i64)>>> {
    let rust = |copies, revenue| row(1, "The Rust Programming Language", copies, revenue);
    let ddia = row(2, "Designing Data-Intensive Applications", 2, "89.90")?;
    Ok(vec![
        vec![(rust(3, "119.97")?, 1), (ddia.clone(), 1)],
        vec![
            (rust(3, "119.97")?, -1),
            (rust(5, "199.95")?, 1),
            (row(3, "Streaming Systems", 1, "44.99")?, 1),
        ],
        vec![(ddia, -1)],
    ])
}

/// The connector config: the one the server stored, or the seed document's body with the local broker.
fn connector_config(args: &Args) -> Result<serde_json::Value> {
    match &args.connector_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let descr: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            descr
                .get("config")
                .cloned()
                .with_context(|| format!("{} has no `config` field", path.display()))
        }
        None => Ok(serde_json::json!({
            "transport": {"name": "kafka_output", "config": {
                "bootstrap.servers": args.brokers,
                "auto.offset.reset": "earliest",
                "topic": args.topic
            }},
            "format": {"name": "json", "config": {"update_format": "insert_delete", "array": false}}
        })),
    }
}

pub fn run(args: Args) -> Result<()> {
    let run_id = format!("{:016x}", rand::random::<u64>());
    let mut body = connector_config(&args)?;
    // A header that tags this run's messages, so that the read-back shows only them.
    let headers = &mut body["transport"]["config"]["headers"];
    let mut list = headers.as_array().cloned().unwrap_or_default();
    list.push(serde_json::json!({"key": "sluice-demo-run", "value": run_id}));
    *headers = serde_json::Value::Array(list);
    let config: ConnectorConfig =
        serde_json::from_value(body).context("the demo connector config does not parse")?;
    for warning in config.validate()? {
        println!("config warning: {warning}");
    }
    let TransportConfig::KafkaOutput(kafka) = &config.transport else {
        bail!("the demo connector is not a kafka_output connector");
    };
    validate_config(kafka)?;
    println!(
        "connector config in use (defaults filled in, plus a header tagging this run):\n{}\n",
        serde_json::to_string_pretty(&config)?
    );

    let brokers = kafka.bootstrap_servers().unwrap_or_default();
    kafka_tools::wait_for_broker(brokers, Duration::from_secs(30))?;
    kafka_tools::create_topic(brokers, &kafka.topic, 1)?;

    let endpoint = KafkaOutputEndpoint::new("total-sales", kafka)?;
    endpoint.connect()?;
    let format = config.format.as_ref().context("no format")?;
    let mut encoder = build_encoder(
        format,
        &view(),
        MessageLimits {
            max_message_bytes: endpoint.max_payload_bytes(),
        },
    )?;

    let mut sent = 0;
    for (i, delta) in steps()?.iter().enumerate() {
        let errors = encoder.encode(delta, &mut |m| {
            sent += 1;
            endpoint
                .send(m.key.as_deref(), &m.value, m.records)
                .map_err(|e| sluice_formats::SinkError(Box::new(e)))
        })?;
        if let Some(e) = errors.first() {
            bail!("step {}: {e}", i + 1);
        }
    }
    endpoint.flush(Duration::from_secs(30))?;
    let stats = endpoint.stats();
    println!(
        "sent {sent} messages; acknowledged by the broker: {} messages, {} records, {} bytes\n",
        stats.transmitted_messages, stats.transmitted_records, stats.transmitted_bytes
    );

    println!(
        "topic '{}' as a consumer sees it (this run's messages):",
        kafka.topic
    );
    let all = kafka_tools::read_topic(brokers, &kafka.topic, sent, Duration::from_secs(30))?;
    let mine: Vec<_> = all
        .iter()
        .filter(|m| {
            m.headers
                .iter()
                .any(|(k, v)| k == "sluice-demo-run" && v.as_deref() == Some(run_id.as_bytes()))
        })
        .collect();
    for m in &mine {
        println!("  offset {:>3}: {}", m.offset, m.payload_text());
    }
    if mine.len() != sent || stats.transmitted_messages != sent as u64 {
        bail!(
            "expected {sent} messages on the topic, found {} ({} acknowledged)",
            mine.len(),
            stats.transmitted_messages
        );
    }
    println!("\nall {sent} changes delivered, acknowledged and read back");
    Ok(())
}
