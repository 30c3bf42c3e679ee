//! The event stream: people, auctions and bids in Nexmark's proportions (1 : 3 : 46 in every 50 events), in event
//! time order, reproducible from a seed.
//!
//! What follows the specification: ids start at 1000 (people and auctions), categories are 10 to 14, a bid names
//! one of the 100 most recent auctions and a bidder among the 1,000 most recent people, and with probability 1/2
//! (auctions) or 3/4 (bidders, sellers) a "hot" one (an id rounded down to a multiple of the hot ratio), so that some
//! auctions and people get most of the activity. Prices are log-uniform between 100 and 100,000,000; an auction's
//! reserve is its initial bid plus such a price, and it expires within its first 20 seconds. People live in six US
//! states; bids come through four named channels or a numbered one, with a URL that carries the channel id.
//! Events are `1 / events_per_second` apart in event time. The random source is a SplitMix64 sequence of our own,
//! so a seed gives the same stream on every machine.

use sluice_data::{Row, Value};

const FIRST_PERSON_ID: i64 = 1000;
const FIRST_AUCTION_ID: i64 = 1000;
const FIRST_CATEGORY_ID: i64 = 10;
const CATEGORIES: u64 = 5;
const ACTIVE_PEOPLE: i64 = 1000;
const IN_FLIGHT_AUCTIONS: i64 = 100;
const HOT_AUCTION_RATIO: i64 = 2;
const HOT_PEOPLE_RATIO: i64 = 4;
const STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];

/// How the stream is made.
#[derive(Clone, Debug)]
pub struct Config {
    /// Events per second of event time.
    pub events_per_second: u64,
    /// The first event's time, in microseconds since 1970-01-01.
    pub start_micros: i64,
    /// The seed of the random choices.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            events_per_second: 10_000_000,
            // 2026-01-01 00:00:00.
            start_micros: 1_767_225_600_000_000,
            seed: 0,
        }
    }
}

/// The rows of a stretch of events, one vector per table (`person`, `auction`, `bid` of [`crate::TABLES`]).
#[derive(Debug, Default)]
pub struct Events {
    pub people: Vec<Row>,
    pub auctions: Vec<Row>,
    pub bids: Vec<Row>,
}

impl Events {
    /// How many events these are.
    pub fn len(&self) -> usize {
        self.people.len() + self.auctions.len() + self.bids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes the events one stretch after the other.
pub struct Generator {
    config: Config,
    next: u64,
    random: u64,
}

impl Generator {
    pub fn new(config: Config) -> Self {
        let random = config.seed ^ 0x005E_ED0F_4E58_4D41;
        Generator {
            config,
            next: 0,
            random,
        }
    }

    /// The next `n` events.
    pub fn next_events(&mut self, n: usize) -> Events {
        let mut out = Events::default();
        for _ in 0..n {
            let event = self.next;
            self.next += 1;
            let at = self.config.start_micros
                + (event as i128 * 1_000_000 / self.config.events_per_second.max(1) as i128) as i64;
            match event % 50 {
                0 => out.people.push(self.person(event, at)),
                1..=3 => out.auctions.push(self.auction(event, at)),
                _ => out.bids.push(self.bid(event, at)),
            }
        }
        out
    }

    /// Events made so far.
    pub fn events(&self) -> u64 {
        self.next
    }

    /// SplitMix64.
    fn random(&mut self) -> u64 {
        self.random = self.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.random() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// Text of `len` lowercase letters.
    fn text(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'a' + self.below(26) as u8))
            .collect()
    }

    /// Log-uniform, from 100 to 100,000,000.
    fn price(&mut self) -> i64 {
        let exponent = self.below(1_000_000) as f64 / 1_000_000.0 * 6.0;
        (10f64.powf(exponent) * 100.0).round() as i64
    }

    /// People and auctions made before `event`.
    fn people_before(event: u64) -> i64 {
        (event / 50 + u64::from(!event.is_multiple_of(50))) as i64
    }

    fn auctions_before(event: u64) -> i64 {
        (event / 50 * 3 + (event % 50).clamp(1, 4) - 1) as i64
    }

    /// A recent person (a seller or a bidder), hot three times in four.
    fn someone(&mut self, event: u64) -> i64 {
        let people = Self::people_before(event).max(1);
        let id = if self.below(4) > 0 {
            (people - 1) / HOT_PEOPLE_RATIO * HOT_PEOPLE_RATIO
        } else {
            people - 1 - self.below(ACTIVE_PEOPLE.min(people) as u64) as i64
        };
        FIRST_PERSON_ID + id
    }

    fn person(&mut self, event: u64, at: i64) -> Row {
        let id = FIRST_PERSON_ID + (event / 50) as i64;
        let name = format!("{} {}", self.pick(&FIRST_NAMES), self.pick(&LAST_NAMES));
        let email = format!("{}@{}.com", self.text(7), self.text(5));
        let card = (0..4)
            .map(|_| format!("{:04}", self.below(10_000)))
            .collect::<Vec<_>>()
            .join(" ");
        Row(vec![
            Value::BigInt(id),
            Value::String(name),
            Value::String(email),
            Value::String(card),
            Value::from(self.pick(&CITIES)),
            Value::from(self.pick(&STATES)),
            Value::Timestamp(at),
            Value::String(self.text(10)),
        ])
    }

    fn auction(&mut self, event: u64, at: i64) -> Row {
        let id = FIRST_AUCTION_ID + Self::auctions_before(event);
        let initial = self.price();
        let reserve = initial + self.price();
        let expires = at + 1 + self.below(20_000_000) as i64;
        let seller = self.someone(event);
        let category = FIRST_CATEGORY_ID + self.below(CATEGORIES) as i64;
        Row(vec![
            Value::BigInt(id),
            Value::String(self.text(12)),
            Value::String(self.text(24)),
            Value::BigInt(initial),
            Value::BigInt(reserve),
            Value::Timestamp(at),
            Value::Timestamp(expires),
            Value::BigInt(seller),
            Value::BigInt(category),
            Value::String(self.text(10)),
        ])
    }

    fn bid(&mut self, event: u64, at: i64) -> Row {
        let auctions = Self::auctions_before(event).max(1);
        let auction = if self.below(2) == 0 {
            (auctions - 1) / HOT_AUCTION_RATIO * HOT_AUCTION_RATIO
        } else {
            auctions - 1 - self.below(IN_FLIGHT_AUCTIONS.min(auctions) as u64) as i64
        };
        let bidder = self.someone(event);
        let (channel, channel_id) = match self.below(10) {
            n @ 0..=3 => (CHANNELS[n as usize].to_string(), n),
            _ => {
                let n = self.below(10_000);
                (format!("channel-{n}"), n)
            }
        };
        let url = format!(
            "https://www.nexmark.com/{}/{}/{}/item.htm?query=1&channel_id={channel_id}",
            self.text(5),
            self.text(5),
            self.text(5)
        );
        Row(vec![
            Value::BigInt(FIRST_AUCTION_ID + auction),
            Value::BigInt(bidder),
            Value::BigInt(self.price()),
            Value::String(channel),
            Value::String(url),
            Value::Timestamp(at),
            Value::String(self.text(10)),
        ])
    }
}
