//! `sluice kafka …`: small tools for a Kafka-compatible broker, used by the scripts and by people.
//!
//! They use the same librdkafka build as Sluice itself, so they work with every broker Sluice works with (Debian's
//! `kcat` links librdkafka 2.0, which works with Apache Kafka but not with tansu, the tests' second broker).

use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;
use sluice_transports::kafka_tools;

use super::DEFAULT_BROKERS;

#[derive(Subcommand)]
pub enum Command {
    /// Wait until a broker answers metadata requests.
    Wait {
        /// Broker list (host:port, comma-separated).
        #[arg(long, env = "SLUICE_KAFKA_BROKERS", default_value = DEFAULT_BROKERS)]
        brokers: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
    /// Create a topic (an existing topic is fine).
    CreateTopic {
        /// Topic name.
        topic: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1)]
        partitions: i32,
        /// Broker list (host:port, comma-separated).
        #[arg(long, env = "SLUICE_KAFKA_BROKERS", default_value = DEFAULT_BROKERS)]
        brokers: String,
    },
    /// Delete a topic (a missing topic is fine).
    DeleteTopic {
        /// Topic name.
        topic: String,
        /// Broker list (host:port, comma-separated).
        #[arg(long, env = "SLUICE_KAFKA_BROKERS", default_value = DEFAULT_BROKERS)]
        brokers: String,
    },
    /// Write each line of standard input to a topic as one message (empty lines are skipped), and wait until the
    /// broker has them.
    Produce {
        /// Topic name.
        topic: String,
        /// Broker list (host:port, comma-separated).
        #[arg(long, env = "SLUICE_KAFKA_BROKERS", default_value = DEFAULT_BROKERS)]
        brokers: String,
    },
    /// Print a topic's messages from the beginning, one per line (`key<TAB>value` when a key is set).
    Consume {
        /// Topic name.
        topic: String,
        /// Keep reading until at least this many messages arrived (or the timeout passes).
        #[arg(long, default_value_t = 0)]
        min: usize,
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 5)]
        timeout_secs: u64,
        /// Broker list (host:port, comma-separated).
        #[arg(long, env = "SLUICE_KAFKA_BROKERS", default_value = DEFAULT_BROKERS)]
        brokers: String,
    },
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Wait {
            brokers,
            timeout_secs,
        } => {
            let n = kafka_tools::wait_for_broker(&brokers, Duration::from_secs(timeout_secs))?;
            println!("broker at {brokers} answers ({n} broker(s) in the cluster)");
        }
        Command::CreateTopic {
            topic,
            partitions,
            brokers,
        } => {
            kafka_tools::create_topic(&brokers, &topic, partitions)?;
            println!("topic '{topic}' exists on {brokers}");
        }
        Command::DeleteTopic { topic, brokers } => {
            kafka_tools::delete_topic(&brokers, &topic)?;
            println!("topic '{topic}' deleted from {brokers}");
        }
        Command::Produce { topic, brokers } => {
            let lines: Vec<String> = std::io::stdin().lines().collect::<std::io::Result<_>>()?;
            let payloads: Vec<&[u8]> = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.as_bytes())
                .collect();
            kafka_tools::produce(&brokers, &topic, &payloads)?;
            println!(
                "{} message(s) written to '{topic}' on {brokers}",
                payloads.len()
            );
        }
        Command::Consume {
            topic,
            min,
            timeout_secs,
            brokers,
        } => {
            let messages =
                kafka_tools::read_topic(&brokers, &topic, min, Duration::from_secs(timeout_secs))?;
            for m in &messages {
                match &m.key {
                    Some(k) => println!("{}\t{}", String::from_utf8_lossy(k), m.payload_text()),
                    None => println!("{}", m.payload_text()),
                }
            }
            if messages.len() < min {
                anyhow::bail!(
                    "read {} messages from '{topic}', expected at least {min}",
                    messages.len()
                );
            }
        }
    }
    Ok(())
}
