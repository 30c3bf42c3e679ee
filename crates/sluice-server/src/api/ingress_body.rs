//! Reading an ingress body of any size: it is parsed as it arrives ([`sluice_formats::Pieces`]), so the server
//! holds the parsed records and about one piece of text, never the body as well, and a body is refused with 413
//! as soon as it passes the ingress limit (`sluice serve --max-ingress-bytes`), from its `Content-Length` when it
//! has one. The request stays all or nothing: the records are handed to the pipeline only once the whole body
//! parsed without an error.

use axum::body::Body;
use axum::http::{header, HeaderMap};
use futures_util::StreamExt;
use sluice_data::Row;
use sluice_formats::{ParseError, Parser, Pieces};

use crate::http::error::ApiError;

/// Text parsed at a time: large enough that a piece costs little besides its records, small next to the records
/// it holds.
const PIECE_BYTES: usize = 1 << 20;

/// How much of a body over the limit is still read (and dropped) before answering 413.
const DRAIN_BYTES: u64 = 64 << 20;

/// The most errors kept of one body: a body of bad records still gets an answer of bounded size (`num_errors`
/// counts them all).
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// What a body held.
pub struct ParsedBody {
    pub records: Vec<(Row, i64)>,
    /// The first [`MAX_LISTED_ERRORS`] errors.
    pub errors: Vec<ParseError>,
    /// How many records were bad in all.
    pub num_errors: usize,
    /// The body's size.
    pub bytes: u64,
}

/// Reads and parses `body`, refusing it with 413 once it is larger than `limit` bytes. After a bad record, the
/// rest is still read for its errors, but its records are not kept.
pub async fn parse_body(
    headers: &HeaderMap,
    body: Body,
    parser: Box<dyn Parser>,
    limit: u64,
) -> Result<ParsedBody, ApiError> {
    let too_large = || ApiError::PayloadTooLarge {
        limit_bytes: usize::try_from(limit).unwrap_or(usize::MAX),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    if declared.is_some_and(|n| n > limit) {
        // A client that asked to continue sends nothing until told: answer at once. Any other is sending the
        // body already and reads the answer only once it is sent, so a moderate excess is read and dropped.
        if !headers.contains_key(header::EXPECT) {
            drain(&mut stream).await;
        }
        return Err(too_large());
    }
    let mut state = Reading {
        pieces: Pieces::new(parser, PIECE_BYTES),
        parsed: ParsedBody {
            records: Vec::new(),
            errors: Vec::new(),
            num_errors: 0,
            bytes: 0,
        },
        text: Vec::new(),
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::InvalidFormat {
            field: "body".into(),
            reason: format!("the body could not be read: {e}"),
        })?;
        state.parsed.bytes += chunk.len() as u64;
        if state.parsed.bytes > limit {
            drain(&mut stream).await;
            return Err(too_large());
        }
        state.text.extend_from_slice(&chunk);
        if state.text.len() >= PIECE_BYTES {
            // Parsing a piece takes milliseconds: off the async threads.
            state = blocking(state, |s| s.feed()).await?;
        }
    }
    blocking(state, |s| s.feed().finish()).await
}

/// Reads and drops up to [`DRAIN_BYTES`] more of a refused body, so that a client still sending it gets to read
/// the answer (a connection closed under a sending client is a broken pipe to it, not a 413).
async fn drain(stream: &mut axum::body::BodyDataStream) {
    let mut dropped = 0;
    while dropped < DRAIN_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => dropped += chunk.len() as u64,
            _ => return,
        }
    }
}

/// The reader between two pieces.
struct Reading {
    pieces: Pieces,
    parsed: ParsedBody,
    /// Received, not yet given to `pieces`.
    text: Vec<u8>,
}

impl Reading {
    fn feed(mut self) -> Self {
        let text = std::mem::take(&mut self.text);
        let mut errors = Vec::new();
        self.pieces
            .push(&text, &mut self.parsed.records, &mut errors);
        keep(&mut self.parsed, errors);
        self
    }

    fn finish(mut self) -> ParsedBody {
        let mut errors = Vec::new();
        self.pieces.finish(&mut self.parsed.records, &mut errors);
        keep(&mut self.parsed, errors);
        self.parsed
    }
}

/// Counts and keeps errors; once there is one, the records are no longer needed (nothing will be applied).
fn keep(parsed: &mut ParsedBody, errors: Vec<ParseError>) {
    parsed.num_errors += errors.len();
    let room = MAX_LISTED_ERRORS.saturating_sub(parsed.errors.len());
    parsed.errors.extend(errors.into_iter().take(room));
    if parsed.num_errors > 0 {
        parsed.records = Vec::new();
    }
}

async fn blocking<T: Send + 'static>(
    state: Reading,
    f: impl FnOnce(Reading) -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || f(state))
        .await
        .map_err(|e| ApiError::Internal(format!("ingress parsing: {e}")))
}
