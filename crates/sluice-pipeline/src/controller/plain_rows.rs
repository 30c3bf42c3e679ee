//! Plain-row output (JSON `raw`, CSV without the weight column) cannot say that a row was deleted; by default
//! (`on_delete: fail`) a deleting step fails the connector. Whether a view can delete at all is known from the
//! program, so a connector that would fail on the first delete of a view that can delete is refused at start.

use sluice_sql::Program;
use sluice_types::{ConnectorConfig, DeletePolicy, FormatConfig, JsonUpdateFormat};

use super::spec::{OutputSpec, PipelineError};

/// Refuses `o` (with its resolved `config`) if it sends plain rows, fails on deletes, and its view is not
/// append-only.
pub(super) fn check_plain_rows(
    o: &OutputSpec,
    config: &ConnectorConfig,
    program: &Program,
) -> Result<(), PipelineError> {
    let (fails_on_delete, what) = match &config.format {
        Some(FormatConfig::Json(json)) => (
            json.update_format == JsonUpdateFormat::Raw
                && json.delete_policy() == DeletePolicy::Fail,
            "update_format 'raw'",
        ),
        Some(FormatConfig::Csv(csv)) => (
            !csv.weight_column && csv.delete_policy() == DeletePolicy::Fail,
            "weight_column false",
        ),
        // Avro `raw` says insert or delete in its `op` header; `confluent_jdbc` sends tombstones.
        Some(FormatConfig::Avro(_)) | None => (false, ""),
    };
    let Some(view) = program.view(&o.view) else {
        return Ok(());
    };
    if !fails_on_delete || view.append_only {
        return Ok(());
    }
    Err(PipelineError::PlainRows {
        connector: o.name.clone(),
        reason: format!(
            "{what} sends rows without saying which are deleted, and view '{}' can delete rows (it is not \
             append-only: it reads a table not declared WITH ('append_only' = 'true'), or aggregates, limits or \
             outer-joins); a delete would fail the connector. Declare its tables append-only, set \
             format.config.on_delete to 'op_header' (deletes marked by a header) or 'drop' (inserts only), or use \
             an update format that carries deletes (insert_delete, upsert, debezium)",
            o.view
        ),
    })
}
