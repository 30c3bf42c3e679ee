//! The running pipelines' stats as Prometheus metric families: one sample per pipeline, table and connector.
//!
//! The figures are the ones `GET /v0/pipelines/{name}/stats` shows, so a dashboard and the API never disagree.
//! Samples of every pipeline are grouped by family, because the text format wants each family in one block.
//! Counters restart from zero when a pipeline restarts (Prometheus' `rate` handles such resets).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sluice_pipeline::{PipelineState, PipelineStats};
use sluice_transports::kafka_input::EndpointHealth;

#[derive(Default)]
struct Family {
    help: &'static str,
    kind: &'static str,
    samples: Vec<(String, u64)>,
}

/// Metric families under construction, by name.
#[derive(Default)]
struct Families(BTreeMap<&'static str, Family>);

impl Families {
    fn add(
        &mut self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: u64,
    ) {
        let family = self.0.entry(name).or_default();
        family.help = help;
        family.kind = kind;
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        family.samples.push((labels.join(","), value));
    }

    fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: u64,
    ) {
        self.add(name, "counter", help, labels, value);
    }

    fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: u64,
    ) {
        self.add(name, "gauge", help, labels, value);
    }
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn stalled(health: &EndpointHealth) -> u64 {
    u64::from(!matches!(health, EndpointHealth::Running))
}

/// Renders the metric families of `pipelines` (name, stats), appending to `out`.
pub fn render(pipelines: &[(String, PipelineStats)], out: &mut String) {
    let mut f = Families::default();
    for (name, stats) in pipelines {
        let p = [("pipeline", name.as_str())];
        let g = &stats.global_metrics;
        f.gauge(
            "sluice_pipeline_running",
            "1 while the pipeline steps input, 0 while paused, failed or stopping.",
            &p,
            u64::from(g.state == PipelineState::Running),
        );
        f.gauge(
            "sluice_pipeline_failed",
            "1 when the pipeline failed (see its stats or status for the error).",
            &p,
            u64::from(g.state == PipelineState::Failed),
        );
        f.gauge(
            "sluice_pipeline_stalled",
            "1 while stepping is held back by a full output connector.",
            &p,
            u64::from(g.stalled_since_ms.is_some()),
        );
        f.counter(
            "sluice_pipeline_steps_total",
            "Steps (transactions) run.",
            &p,
            g.steps,
        );
        f.gauge(
            "sluice_pipeline_buffered_input_records",
            "Input records accepted and waiting for a step.",
            &p,
            g.buffered_input_records,
        );
        f.counter(
            "sluice_pipeline_view_changes_total",
            "Changes of views produced by steps.",
            &p,
            g.total_output_records,
        );
        for t in &stats.inputs {
            let l = [("pipeline", name.as_str()), ("table", t.table.as_str())];
            f.counter(
                "sluice_table_input_records_total",
                "Records accepted into the table (HTTP and connectors).",
                &l,
                t.total_records,
            );
            f.counter(
                "sluice_table_input_bytes_total",
                "Bytes of the input that carried the accepted records.",
                &l,
                t.total_bytes,
            );
            f.counter(
                "sluice_table_processed_records_total",
                "Accepted records that a step has processed.",
                &l,
                t.processed_records,
            );
            f.counter(
                "sluice_table_late_records_total",
                "Processed changes dropped for coming later than the table's LATENESS allows.",
                &l,
                t.late_records,
            );
            f.counter(
                "sluice_table_rejected_records_total",
                "Records rejected (malformed, or not fitting the table).",
                &l,
                t.num_parse_errors,
            );
        }
        for c in &stats.input_connectors {
            let l = [
                ("pipeline", name.as_str()),
                ("connector", c.endpoint_name.as_str()),
                ("table", c.table.as_str()),
            ];
            f.counter(
                "sluice_input_connector_messages_total",
                "Messages read from the transport.",
                &l,
                c.total_messages,
            );
            f.counter(
                "sluice_input_connector_records_total",
                "Records handed to the pipeline.",
                &l,
                c.total_records,
            );
            f.counter(
                "sluice_input_connector_rejected_messages_total",
                "Messages rejected whole because a record was invalid.",
                &l,
                c.num_rejected_messages,
            );
            f.gauge(
                "sluice_input_connector_pending_records",
                "Records read but waiting for room in the input buffer.",
                &l,
                c.pending_records,
            );
            f.counter(
                "sluice_input_connector_transport_errors_total",
                "Transport errors (retried or fatal).",
                &l,
                c.transport.num_transport_errors,
            );
            f.gauge(
                "sluice_input_connector_stalled",
                "1 while the transport cannot reach its brokers.",
                &l,
                stalled(&c.transport.health),
            );
        }
        for o in &stats.outputs {
            let l = [
                ("pipeline", name.as_str()),
                ("connector", o.endpoint_name.as_str()),
                ("view", o.view.as_str()),
            ];
            let t = &o.transport;
            f.gauge(
                "sluice_output_connector_queued_records",
                "View changes queued for encoding and sending.",
                &l,
                o.queued_records,
            );
            f.counter(
                "sluice_output_connector_encoded_records_total",
                "View changes encoded into messages.",
                &l,
                o.processed_records,
            );
            f.counter(
                "sluice_output_connector_encode_errors_total",
                "View changes that could not be encoded.",
                &l,
                o.num_encode_errors,
            );
            f.counter(
                "sluice_output_connector_transmitted_messages_total",
                "Messages acknowledged by the destination.",
                &l,
                t.transmitted_messages,
            );
            f.counter(
                "sluice_output_connector_transmitted_records_total",
                "View changes in messages acknowledged by the destination.",
                &l,
                t.transmitted_records,
            );
            f.counter(
                "sluice_output_connector_transmitted_bytes_total",
                "Payload bytes acknowledged by the destination.",
                &l,
                t.transmitted_bytes,
            );
            f.gauge(
                "sluice_output_connector_in_flight_messages",
                "Messages sent and not yet acknowledged.",
                &l,
                t.in_flight_messages,
            );
            f.gauge(
                "sluice_output_connector_in_flight_bytes",
                "Payload bytes sent and not yet acknowledged.",
                &l,
                t.in_flight_bytes,
            );
            f.gauge(
                "sluice_output_connector_retry_queued_messages",
                "Messages whose delivery failed transiently, waiting to be sent again.",
                &l,
                t.queued_messages,
            );
            f.gauge(
                "sluice_output_connector_retry_queued_bytes",
                "Payload bytes of messages waiting to be sent again.",
                &l,
                t.queued_bytes,
            );
            f.counter(
                "sluice_output_connector_failed_messages_total",
                "Messages the destination finally refused.",
                &l,
                t.failed_messages,
            );
            f.counter(
                "sluice_output_connector_transport_errors_total",
                "Transport errors (retried or fatal).",
                &l,
                t.num_transport_errors,
            );
            f.gauge(
                "sluice_output_connector_stalled",
                "1 while the transport cannot deliver.",
                &l,
                stalled(&t.health),
            );
            if let Some(eo) = &o.exactly_once {
                let l = [
                    ("pipeline", name.as_str()),
                    ("connector", o.endpoint_name.as_str()),
                    ("view", o.view.as_str()),
                    ("mode", eo.mode.as_str()),
                ];
                f.gauge(
                    "sluice_output_connector_committed_step",
                    "Exactly-once output: the last step whose messages are committed (transactions) or \
                     acknowledged at a checkpoint (markers).",
                    &l,
                    eo.committed_step,
                );
                f.gauge(
                    "sluice_output_connector_open_transaction",
                    "Exactly-once output: 1 while a Kafka transaction is open.",
                    &l,
                    u64::from(eo.open_transaction_first_step.is_some()),
                );
                f.counter(
                    "sluice_output_connector_transactions_total",
                    "Exactly-once output: Kafka transactions committed.",
                    &l,
                    eo.transactions_committed,
                );
                f.counter(
                    "sluice_output_connector_replay_skipped_messages_total",
                    "Exactly-once output: messages a restart's replay did not send again, because an earlier \
                     run had delivered them.",
                    &l,
                    eo.skipped_messages,
                );
            }
        }
    }
    for (name, family) in f.0 {
        let _ = writeln!(
            out,
            "# HELP {name} {}\n# TYPE {name} {}",
            family.help, family.kind
        );
        for (labels, value) in family.samples {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}
