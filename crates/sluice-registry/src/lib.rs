//! A client of Confluent-compatible schema registries (Confluent Schema Registry, Karapace, Apicurio's `ccompat`
//! API, Redpanda): what an Avro output connector needs at start, registering its key and value schemas and
//! learning their ids, and what an Avro input connector needs, the schema of each id it reads
//! (`GET {url}/schemas/ids/{id}`).
//!
//! `POST {url}/subjects/{subject}/versions` with `{"schema": <text>}` registers a schema under a subject (or finds
//! it registered already) and answers `{"id": N}`; the registry refuses a schema that breaks the subject's
//! compatibility rule with 409 and says why. Each URL is tried in turn until one answers; an answer, even a
//! refusal, is final.
//!
//! This crate must not depend on the pipeline, Kafka or the formats: the pipeline gives it schema text and subjects
//! (it reads only the Avro config's registry settings, from `sluice-types`).

#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde::Deserialize;

/// The media type of the registry's API.
const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// How long a request may take when the connector does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A setting that cannot work (a URL that does not parse, a header that is not one).
    #[error("{0}")]
    Config(String),
    /// No URL answered.
    #[error("no schema registry answered: {}", .0.join("; "))]
    Unreachable(Vec<String>),
    /// The registry answered with an error: an incompatible or invalid schema, an unknown subject, no access.
    #[error("the schema registry at {url} refused subject '{subject}' (HTTP {status}{}): {message}",
        .code.map(|c| format!(", error_code {c}")).unwrap_or_default())]
    Refused {
        /// The URL that answered.
        url: String,
        /// The subject.
        subject: String,
        /// The HTTP status.
        status: u16,
        /// The registry's `error_code`, when it gave one.
        code: Option<i64>,
        /// The registry's `message` (or the body).
        message: String,
    },
}

/// Where the registry is and how to reach it.
#[derive(Clone, Debug, Default)]
pub struct RegistryConfig {
    /// Registry URLs, tried in order.
    pub urls: Vec<String>,
    /// Headers added to every request.
    pub headers: BTreeMap<String, String>,
    /// An HTTP(S) proxy for every request.
    pub proxy: Option<String>,
    /// How long a request may take; [`DEFAULT_TIMEOUT`] when `None`.
    pub timeout: Option<Duration>,
    /// How requests authenticate, if the registry asks.
    pub auth: Option<Auth>,
    /// PEM certificates of authorities trusted besides the system's, for the registry's HTTPS certificate.
    pub ca_pem: Option<String>,
}

/// A registry's authentication.
#[derive(Clone)]
pub enum Auth {
    /// HTTP basic authentication.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// A bearer token.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { username, .. } => write!(f, "Basic({username}, ********)"),
            Auth::Bearer(_) => f.write_str("Bearer(********)"),
        }
    }
}

impl RegistryConfig {
    /// The registry settings of an Avro format config (`registry_urls` and the other `registry_*` settings).
    pub fn of_avro(avro: &sluice_types::AvroEncoderConfig) -> Self {
        let auth = match (
            &avro.registry_username,
            &avro.registry_password,
            &avro.registry_authorization_token,
        ) {
            (Some(username), Some(password), _) => Some(Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            }),
            (_, _, Some(token)) => Some(Auth::Bearer(token.clone())),
            _ => None,
        };
        RegistryConfig {
            urls: avro.registry_urls.clone(),
            headers: avro.registry_headers.clone(),
            proxy: avro.registry_proxy.clone(),
            timeout: avro.registry_timeout_secs.map(Duration::from_secs),
            auth,
            ca_pem: avro.registry_tls_ca_pem.clone(),
        }
    }
}

/// A registry client.
pub struct Registry {
    client: Client,
    urls: Vec<reqwest::Url>,
    auth: Option<Auth>,
}

#[derive(Deserialize)]
struct Registered {
    id: u32,
}

#[derive(Deserialize)]
struct Found {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
}

#[derive(Deserialize)]
struct Failure {
    error_code: Option<i64>,
    message: Option<String>,
}

impl Registry {
    /// A client of the registry `config` describes.
    pub fn new(config: &RegistryConfig) -> Result<Self, RegistryError> {
        if config.urls.is_empty() {
            return Err(RegistryError::Config("no registry URL".into()));
        }
        let urls = config
            .urls
            .iter()
            .map(|u| {
                reqwest::Url::parse(u.trim_end_matches('/'))
                    .map_err(|e| RegistryError::Config(format!("registry URL '{u}': {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| RegistryError::Config(format!("registry header '{name}': {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| RegistryError::Config(format!("registry header '{name}': {e}")))?;
            headers.insert(name, value);
        }
        let mut builder = Client::builder()
            .default_headers(headers)
            .timeout(config.timeout.unwrap_or(DEFAULT_TIMEOUT));
        if let Some(pem) = &config.ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| RegistryError::Config(format!("registry CA certificates: {e}")))?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy)
                .map_err(|e| RegistryError::Config(format!("registry proxy '{proxy}': {e}")))?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| RegistryError::Config(format!("registry client: {e}")))?;
        Ok(Registry {
            client,
            urls,
            auth: config.auth.clone(),
        })
    }

    /// The schema (JSON text) the registry has under `id`, for decoding a message that names it. A schema of
    /// another type (Protobuf, JSON Schema) is refused.
    pub fn schema_by_id(&self, id: u32) -> Result<String, RegistryError> {
        let subject = format!("schema id {id}");
        let text = self.call(&subject, |base| {
            let mut url = base.clone();
            url.path_segments_mut()
                .map_err(|()| {
                    RegistryError::Config(format!("registry URL '{base}' cannot have a path"))
                })?
                .extend(["schemas", "ids", &id.to_string()]);
            Ok(self.client.get(url))
        })?;
        let found: Found = serde_json::from_str(&text).map_err(|e| {
            RegistryError::Config(format!(
                "the registry's answer for schema {id} is not a schema ({e}): {text}"
            ))
        })?;
        match found.schema_type.as_deref() {
            None | Some("AVRO") => Ok(found.schema),
            Some(other) => Err(RegistryError::Config(format!(
                "schema {id} is a {other} schema, not Avro"
            ))),
        }
    }

    /// Sends the request `request` builds for each URL in turn until one answers; returns the body of a success.
    fn call(
        &self,
        subject: &str,
        request: impl Fn(&reqwest::Url) -> Result<reqwest::blocking::RequestBuilder, RegistryError>,
    ) -> Result<String, RegistryError> {
        let mut unreachable = Vec::new();
        for base in &self.urls {
            let builder = match &self.auth {
                None => request(base)?,
                Some(Auth::Basic { username, password }) => {
                    request(base)?.basic_auth(username, Some(password))
                }
                Some(Auth::Bearer(token)) => request(base)?.bearer_auth(token),
            };
            let response = match builder.send() {
                Ok(r) => r,
                Err(e) => {
                    unreachable.push(format!("{base}: {e}"));
                    continue;
                }
            };
            let status = response.status();
            let text = response.text().unwrap_or_default();
            if status.is_success() {
                return Ok(text);
            }
            let failure = serde_json::from_str::<Failure>(&text).ok();
            return Err(RegistryError::Refused {
                url: base.to_string(),
                subject: subject.to_string(),
                status: status.as_u16(),
                code: failure.as_ref().and_then(|f| f.error_code),
                message: failure.and_then(|f| f.message).unwrap_or(text),
            });
        }
        Err(RegistryError::Unreachable(unreachable))
    }

    /// Registers the Avro schema `schema` (JSON text) under `subject` and returns its id: the id it already has
    /// when it is registered there, a new one otherwise. A schema the subject's compatibility rule refuses is a
    /// [`RegistryError::Refused`] with the registry's reason.
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let body = serde_json::json!({"schema": schema, "schemaType": "AVRO"});
        let text = self.call(subject, |base| {
            let mut url = base.clone();
            url.path_segments_mut()
                .map_err(|()| {
                    RegistryError::Config(format!("registry URL '{base}' cannot have a path"))
                })?
                .extend(["subjects", subject, "versions"]);
            Ok(self.client.post(url).json(&body))
        })?;
        serde_json::from_str::<Registered>(&text)
            .map(|r| r.id)
            .map_err(|e| {
                RegistryError::Config(format!(
                    "the registry's answer for subject '{subject}' has no schema id ({e}): {text}"
                ))
            })
    }
}
