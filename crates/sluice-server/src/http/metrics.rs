//! Prometheus metrics in the text exposition format, counted by [`super::middleware::count_requests`] and rendered
//! at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Request counters by method, route template and status.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Metrics {
    pub(super) fn count(&self, method: &str, route: &str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
    }

    /// The counters in Prometheus text format, followed by `gauges` (name, help, value).
    pub fn render(&self, gauges: &[(&str, &str, i64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP sluice_http_requests_total HTTP requests answered, by method, route and status.\n");
        out.push_str("# TYPE sluice_http_requests_total counter\n");
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((method, route, status), n) in requests.iter() {
            let _ = writeln!(
                out,
                "sluice_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                route.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let m = Metrics::default();
        m.count("GET", "/v0/connectors", 200);
        m.count("GET", "/v0/connectors", 200);
        let text = m.render(&[("sluice_connectors", "Connectors stored.", 3)]);
        assert!(text.contains(
            "sluice_http_requests_total{method=\"GET\",route=\"/v0/connectors\",status=\"200\"} 2"
        ));
        assert!(text.contains("# TYPE sluice_connectors gauge\nsluice_connectors 3"));
    }
}
