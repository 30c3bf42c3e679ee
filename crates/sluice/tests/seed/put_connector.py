import requests

api_url = "http://localhost:8080"
headers = { "authorization": f"Bearer <API-KEY>" }

requests.put(
    f"{api_url}/v0/connectors/total-sales", 
    headers=headers,
    json={
      "description": "Kafka output connector for total sales from the book fair",
      "config": {
          "transport": {
              "name": "kafka_output",
              "config": {
                  "bootstrap.servers": "example.com:9092",
                  "auto.offset.reset": "earliest",
                  "topic": "total-sales"
              }
          },
          "format": {
              "name": "json",
              "config": {
                  "update_format": "insert_delete",
                  "array": False
              }
          }
      }
    }
).raise_for_status()
