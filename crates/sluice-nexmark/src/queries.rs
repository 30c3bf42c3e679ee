//! The Nexmark tables and queries in Sluice's SQL.
//!
//! The queries are the standard ones (q0–q22, as Feldera, Flink and RisingWave run them), written for Sluice: window
//! table functions in Feldera's syntax, `EXTRACT(HOUR ...)` for `HOUR()`, `SPLIT_PART` for `SPLIT_INDEX` (1-based),
//! a character count by `REPLACE` for the `count_char` UDF. [`NOT_SUPPORTED`] lists the ones Sluice cannot run and
//! why. Every table's time column has 4 seconds of lateness, as Feldera declares it, so windowed state is trimmed.

/// The three tables.
pub const TABLES: &str = "
CREATE TABLE person (
    id BIGINT NOT NULL, name VARCHAR, email_address VARCHAR, credit_card VARCHAR, city VARCHAR, state VARCHAR,
    date_time TIMESTAMP NOT NULL LATENESS INTERVAL '4' SECOND, extra VARCHAR);
CREATE TABLE auction (
    id BIGINT NOT NULL, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, reserve BIGINT,
    date_time TIMESTAMP NOT NULL LATENESS INTERVAL '4' SECOND, expires TIMESTAMP NOT NULL, seller BIGINT NOT NULL,
    category BIGINT NOT NULL, extra VARCHAR);
CREATE TABLE bid (
    auction BIGINT NOT NULL, bidder BIGINT NOT NULL, price BIGINT NOT NULL, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP NOT NULL LATENESS INTERVAL '4' SECOND, extra VARCHAR);
";

/// One query: its name and the view that computes it (named like the query).
pub struct Query {
    pub name: &'static str,
    pub sql: &'static str,
}

/// The queries Sluice runs.
pub const QUERIES: &[Query] = &[
    Query {
        name: "q0",
        sql: "CREATE VIEW q0 AS SELECT auction, bidder, price, date_time, extra FROM bid;",
    },
    Query {
        name: "q1",
        sql: "CREATE VIEW q1 AS SELECT auction, bidder, CAST(0.908 * price AS DECIMAL(18, 3)) AS price, date_time, extra FROM bid;",
    },
    Query {
        name: "q2",
        sql: "CREATE VIEW q2 AS SELECT auction, price FROM bid WHERE auction % 123 = 0;",
    },
    Query {
        name: "q3",
        sql: "CREATE VIEW q3 AS SELECT P.name, P.city, P.state, A.id
              FROM auction AS A JOIN person AS P ON A.seller = P.id
              WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');",
    },
    Query {
        name: "q4",
        sql: "CREATE VIEW q4 AS SELECT Q.category, AVG(Q.final) AS avg_final FROM (
                SELECT MAX(B.price) AS final, A.category FROM auction A JOIN bid B ON A.id = B.auction
                WHERE B.date_time BETWEEN A.date_time AND A.expires GROUP BY A.id, A.category) Q
              GROUP BY Q.category;",
    },
    Query {
        name: "q5",
        sql: "CREATE VIEW q5 AS SELECT AuctionBids.auction, AuctionBids.num FROM (
                SELECT auction, COUNT(*) AS num, window_start AS starttime, window_end AS endtime
                FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
                GROUP BY auction, window_start, window_end) AS AuctionBids
              JOIN (
                SELECT MAX(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime FROM (
                  SELECT COUNT(*) AS num, window_start AS starttime, window_end AS endtime
                  FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
                  GROUP BY auction, window_start, window_end) AS CountBids
                GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids
              ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime
                 AND AuctionBids.num >= MaxBids.maxn;",
    },
    Query {
        name: "q6",
        sql: "CREATE VIEW q6 AS SELECT seller, AVG(final) OVER (PARTITION BY seller ORDER BY date_time
                ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS avg_price FROM (
                SELECT MAX(B.price) AS final, A.seller, A.id, MAX(B.date_time) AS date_time
                FROM auction A JOIN bid B ON A.id = B.auction
                WHERE B.date_time BETWEEN A.date_time AND A.expires GROUP BY A.id, A.seller) Q;",
    },
    Query {
        name: "q7",
        sql: "CREATE VIEW q7 AS SELECT B.auction, B.price, B.bidder, B.date_time, B.extra
              FROM bid B JOIN (
                SELECT MAX(price) AS maxprice, window_end AS date_time
                FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND)) GROUP BY window_end) B1
              ON B.price = B1.maxprice
              WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time;",
    },
    Query {
        name: "q8",
        sql: "CREATE VIEW q8 AS SELECT P.id, P.name, P.starttime FROM (
                SELECT id, name, window_start AS starttime, window_end AS endtime
                FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
                GROUP BY id, name, window_start, window_end) P
              JOIN (
                SELECT seller, window_start AS starttime, window_end AS endtime
                FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
                GROUP BY seller, window_start, window_end) A
              ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;",
    },
    Query {
        name: "q9",
        sql: "CREATE VIEW q9 AS SELECT id, item_name, description, initial_bid, reserve, date_time, expires, seller,
                category, extra, auction, bidder, price, bid_date_time, bid_extra FROM (
                SELECT A.*, B.auction, B.bidder, B.price, B.date_time AS bid_date_time, B.extra AS bid_extra,
                  ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.date_time ASC) AS rownum
                FROM auction A JOIN bid B ON A.id = B.auction
                WHERE B.date_time BETWEEN A.date_time AND A.expires) W
              WHERE rownum <= 1;",
    },
    Query {
        name: "q13",
        sql: "CREATE TABLE side_input (k BIGINT NOT NULL, v VARCHAR);
              CREATE VIEW q13 AS SELECT B.auction, B.bidder, B.price, B.date_time, S.v
              FROM (SELECT *, auction % 10000 AS k FROM bid) B JOIN side_input S ON B.k = S.k;",
    },
    Query {
        name: "q14",
        sql: "CREATE VIEW q14 AS SELECT auction, bidder, CAST(0.908 * price AS DECIMAL(18, 3)) AS price,
                CASE WHEN EXTRACT(HOUR FROM date_time) BETWEEN 8 AND 18 THEN 'dayTime'
                     WHEN EXTRACT(HOUR FROM date_time) <= 6 OR EXTRACT(HOUR FROM date_time) >= 20 THEN 'nightTime'
                     ELSE 'otherTime' END AS bid_time_type,
                date_time, extra, CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')) AS c_counts
              FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;",
    },
    Query {
        name: "q15",
        sql: "CREATE VIEW q15 AS SELECT CAST(date_time AS DATE) AS day,
                COUNT(*) AS total_bids,
                COUNT(*) FILTER (WHERE price < 10000) AS rank1_bids,
                COUNT(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
                COUNT(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
                COUNT(DISTINCT bidder) AS total_bidders,
                COUNT(DISTINCT bidder) FILTER (WHERE price < 10000) AS rank1_bidders,
                COUNT(DISTINCT bidder) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bidders,
                COUNT(DISTINCT bidder) FILTER (WHERE price >= 1000000) AS rank3_bidders,
                COUNT(DISTINCT auction) AS total_auctions,
                COUNT(DISTINCT auction) FILTER (WHERE price < 10000) AS rank1_auctions,
                COUNT(DISTINCT auction) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_auctions,
                COUNT(DISTINCT auction) FILTER (WHERE price >= 1000000) AS rank3_auctions
              FROM bid GROUP BY CAST(date_time AS DATE);",
    },
    Query {
        name: "q16",
        sql: "CREATE VIEW q16 AS SELECT channel, CAST(date_time AS DATE) AS day,
                MAX(CAST(EXTRACT(HOUR FROM date_time) AS BIGINT) * 100 + CAST(EXTRACT(MINUTE FROM date_time) AS BIGINT)) AS minute,
                COUNT(*) AS total_bids,
                COUNT(*) FILTER (WHERE price < 10000) AS rank1_bids,
                COUNT(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
                COUNT(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
                COUNT(DISTINCT bidder) AS total_bidders,
                COUNT(DISTINCT auction) AS total_auctions
              FROM bid GROUP BY channel, CAST(date_time AS DATE);",
    },
    Query {
        name: "q17",
        sql: "CREATE VIEW q17 AS SELECT auction, CAST(date_time AS DATE) AS day,
                COUNT(*) AS total_bids,
                COUNT(*) FILTER (WHERE price < 10000) AS rank1_bids,
                COUNT(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
                COUNT(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
                MIN(price) AS min_price, MAX(price) AS max_price, AVG(price) AS avg_price, SUM(price) AS sum_price
              FROM bid GROUP BY auction, CAST(date_time AS DATE);",
    },
    Query {
        name: "q18",
        sql: "CREATE VIEW q18 AS SELECT auction, bidder, price, channel, url, date_time, extra FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY date_time DESC) AS rank_number
                FROM bid) B
              WHERE rank_number <= 1;",
    },
    Query {
        name: "q19",
        sql: "CREATE VIEW q19 AS SELECT * FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid) B
              WHERE rank_number <= 10;",
    },
    Query {
        name: "q20",
        sql: "CREATE VIEW q20 AS SELECT auction, bidder, price, channel, url, B.date_time, B.extra, item_name,
                description, initial_bid, reserve, A.date_time AS auction_date_time, expires, seller, category,
                A.extra AS auction_extra
              FROM bid AS B JOIN auction AS A ON B.auction = A.id WHERE A.category = 10;",
    },
    Query {
        name: "q21",
        sql: "CREATE VIEW q21 AS SELECT auction, bidder, price, channel,
                CASE WHEN LOWER(channel) = 'apple' THEN '0'
                     WHEN LOWER(channel) = 'google' THEN '1'
                     WHEN LOWER(channel) = 'facebook' THEN '2'
                     WHEN LOWER(channel) = 'baidu' THEN '3'
                     ELSE SPLIT_PART(url, 'channel_id=', 2) END AS channel_id
              FROM bid WHERE LOWER(channel) IN ('apple', 'google', 'facebook', 'baidu');",
    },
    Query {
        name: "q22",
        sql: "CREATE VIEW q22 AS SELECT auction, bidder, price, channel,
                SPLIT_PART(url, '/', 4) AS dir1, SPLIT_PART(url, '/', 5) AS dir2, SPLIT_PART(url, '/', 6) AS dir3
              FROM bid;",
    },
];

/// The queries Sluice does not run, and why.
pub const NOT_SUPPORTED: &[(&str, &str)] = &[
    (
        "q10",
        "writes every bid to files partitioned by date and hour: a sink feature (file_output has no partitioning), not a query",
    ),
    (
        "q11",
        "counts bids per bidder in session windows: SESSION windows are refused (dbsp 0.349 has no session operator Sluice uses)",
    ),
    (
        "q12",
        "counts bids in processing-time windows (PROCTIME()): Sluice's results depend only on the input, never on the clock",
    ),
];

/// The program of one query: the tables and its view.
pub fn program(query: &Query) -> String {
    format!("{TABLES}{}", query.sql)
}
