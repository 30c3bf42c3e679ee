"""Reads a topic that Sluice wrote in Avro with a current Kafka client (confluent-kafka) and decodes every message
with an independent Avro implementation (fastavro), checking the Confluent header (magic byte 0, the schema id).

Usage: avro_consumer.py BROKERS TOPIC COUNT VALUE_SCHEMA VALUE_ID KEY_SCHEMA|- KEY_ID|-
   or: avro_consumer.py BROKERS TOPIC COUNT registry=URL - keyed|-
The second form decodes with Confluent's own AvroDeserializer, which fetches each message's schema from the
registry by the id in its header.
Prints one JSON object per message: partition, the key's bytes (hex), key, value (null for a tombstone) and
headers.
"""

import io
import json
import struct
import sys
import time
import uuid

import fastavro
from confluent_kafka import Consumer


def reader(schema_text, expected_id):
    if schema_text == "-":
        return None
    schema = fastavro.parse_schema(json.loads(schema_text))

    def read(raw):
        if raw is None:
            return None
        magic, schema_id = struct.unpack(">bI", raw[:5])
        if magic != 0 or schema_id != int(expected_id):
            raise SystemExit(f"bad Confluent header: magic {magic}, schema id {schema_id}")
        body = io.BytesIO(raw[5:])
        datum = fastavro.schemaless_reader(body, schema)
        if body.read():
            raise SystemExit("bytes left after the datum")
        return datum

    return read


def registry_readers(url, topic, keyed):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    deserializer = AvroDeserializer(SchemaRegistryClient({"url": url}))

    def read(field):
        return lambda raw: None if raw is None else deserializer(raw, SerializationContext(topic, field))

    return read(MessageField.VALUE), (read(MessageField.KEY) if keyed else None)


def main():
    brokers, topic, count, value_schema, value_id, key_schema, key_id = sys.argv[1:8]
    count = int(count)
    if value_schema.startswith("registry="):
        read_value, read_key = registry_readers(value_schema[len("registry="):], topic, key_schema != "-")
    else:
        read_value = reader(value_schema, value_id)
        read_key = reader(key_schema, key_id)
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": f"avro-check-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    got = 0
    deadline = time.time() + 60
    while got < count and time.time() < deadline:
        m = consumer.poll(1.0)
        if m is None:
            continue
        if m.error():
            raise SystemExit(str(m.error()))
        key = read_key(m.key()) if read_key else None
        headers = {k: (v.decode() if v is not None else None) for k, v in (m.headers() or [])}
        print(json.dumps({
            "partition": m.partition(),
            "key_bytes": m.key().hex() if m.key() is not None else None,
            "key": key,
            "value": read_value(m.value()),
            "headers": headers,
        }, default=str))
        got += 1
    consumer.close()
    if got < count:
        raise SystemExit(f"read {got} of {count} messages")


main()
