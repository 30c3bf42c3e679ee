//! Every query of [`QUERIES`] compiles and runs on the engine over a stretch of the stream, and the simplest ones
//! output exactly what the stream implies; the stream has Nexmark's proportions and referential shape.

use std::collections::HashSet;

use sluice_data::{Row, Value};
use sluice_engine::{Engine, EngineConfig};
use sluice_nexmark::{program, Config, Generator, QUERIES};
use sluice_sql::Program;

fn big(row: &Row, i: usize) -> i64 {
    match row.0[i] {
        Value::BigInt(x) => x,
        ref other => panic!("not a BIGINT: {other:?}"),
    }
}

#[test]
fn the_stream_has_nexmarks_proportions_and_references() {
    let mut generator = Generator::new(Config::default());
    let events = generator.next_events(50_000);
    assert_eq!(
        (
            events.people.len(),
            events.auctions.len(),
            events.bids.len()
        ),
        (1_000, 3_000, 46_000)
    );
    let people: HashSet<i64> = events.people.iter().map(|r| big(r, 0)).collect();
    let auctions: HashSet<i64> = events.auctions.iter().map(|r| big(r, 0)).collect();
    assert_eq!(people.len(), 1_000, "person ids are distinct");
    assert_eq!(auctions.len(), 3_000, "auction ids are distinct");
    for a in &events.auctions {
        assert!(people.contains(&big(a, 7)), "a seller is a person: {a}");
        assert!((10..15).contains(&big(a, 8)), "category: {a}");
    }
    let mut bid_auctions = HashSet::new();
    for b in &events.bids {
        assert!(
            auctions.contains(&big(b, 0)),
            "a bid is for an auction: {b}"
        );
        assert!(people.contains(&big(b, 1)), "a bidder is a person: {b}");
        assert!((100..=100_000_000).contains(&big(b, 2)), "price: {b}");
        bid_auctions.insert(big(b, 0));
    }
    // Hot auctions take much of the bidding, but bids spread over many auctions.
    assert!(
        bid_auctions.len() > 1_000,
        "{} auctions got bids",
        bid_auctions.len()
    );
    // Same seed, same stream.
    let again = Generator::new(Config::default()).next_events(50_000);
    assert_eq!(again.bids, events.bids);
}

#[test]
fn every_query_runs_and_the_simple_ones_are_exact() {
    for query in QUERIES {
        let compiled = Program::compile(&program(query))
            .unwrap_or_else(|e| panic!("{} does not compile: {e}", query.name));
        let mut engine = Engine::start(compiled, EngineConfig::with_workers(2)).unwrap();
        let mut generator = Generator::new(Config {
            // 20,000 events over 40 seconds: windows of 2 and 10 seconds open and close.
            events_per_second: 500,
            ..Config::default()
        });
        let mut rows = 0i64;
        let mut bids = Vec::new();
        for _ in 0..4 {
            let events = generator.next_events(5_000);
            bids.extend(events.bids.iter().cloned());
            let ones = |rows: Vec<Row>| rows.into_iter().map(|r| (r, 1)).collect::<Vec<_>>();
            engine.push("person", ones(events.people)).unwrap();
            engine.push("auction", ones(events.auctions)).unwrap();
            engine.push("bid", ones(events.bids)).unwrap();
            let deltas = engine.step().unwrap();
            rows += deltas[query.name].iter().map(|(_, w)| w).sum::<i64>();
        }
        match query.name {
            "q0" | "q22" => assert_eq!(rows, bids.len() as i64, "{}", query.name),
            "q2" => assert_eq!(
                rows,
                bids.iter().filter(|b| big(b, 0) % 123 == 0).count() as i64
            ),
            "q13" => assert_eq!(rows, 0, "the side input is empty"),
            _ => assert!(rows > 0, "{} output nothing", query.name),
        }
    }
}
