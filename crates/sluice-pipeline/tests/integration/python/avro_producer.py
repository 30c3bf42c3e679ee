"""Writes rows to a topic in Avro with a current Kafka client (confluent-kafka), framed in the Confluent wire format
by an independent Avro implementation: fastavro with a given schema and id, or Confluent's own AvroSerializer,
which registers the schema in a registry and writes the id the registry gives.

Usage: avro_producer.py BROKERS TOPIC SCHEMA (ID | registry=URL) ROWS_JSON
ROWS_JSON is a JSON array of records (objects keyed by field name).
"""

import io
import json
import struct
import sys

import fastavro
from confluent_kafka import Producer


def main():
    brokers, topic, schema_text, id_or_registry, rows_json = sys.argv[1:6]
    rows = json.loads(rows_json)
    producer = Producer({"bootstrap.servers": brokers})
    if id_or_registry.startswith("registry="):
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.avro import AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        client = SchemaRegistryClient({"url": id_or_registry[len("registry="):]})
        serializer = AvroSerializer(client, schema_text)
        encode = lambda row: serializer(row, SerializationContext(topic, MessageField.VALUE))
    else:
        schema = fastavro.parse_schema(json.loads(schema_text))
        header = struct.pack(">bI", 0, int(id_or_registry))

        def encode(row):
            out = io.BytesIO()
            out.write(header)
            fastavro.schemaless_writer(out, schema, row)
            return out.getvalue()

    for row in rows:
        producer.produce(topic, value=encode(row))
    if producer.flush(30) != 0:
        raise SystemExit("messages were not delivered")


main()
