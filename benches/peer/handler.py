"""The peer that `cargo xtask bench` runs beside cart-sync: the same job (SQS cart events into
the customer's cart lines in DynamoDB) done the usual way on Lambda's Python runtime, with AWS
Lambda Powertools' BatchProcessor (partial batch responses), idempotent_function on DynamoDB
(the dedupe record) and Logger (structured logs). It is not part of omnisync; it is the yardstick.

The job per event: one UpdateItem of the line (ADD for an add, SET for a set or remove), inside
Powertools' idempotency (its own PutItem of the record in progress and UpdateItem when done).
"""

import json
import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

TABLE = os.environ["OMNISYNC_STATE_TABLE"]

logger = Logger(service="cart-peer")
processor = BatchProcessor(event_type=EventType.SQS)
persistence = DynamoDBPersistenceLayer(
    table_name=TABLE,
    key_attr="pk",
    sort_key_attr="sk",
    static_pk_value="IDEMPOTENCY#cart-peer",
)
config = IdempotencyConfig(event_key_jmespath="event_id", expires_after_seconds=3600)
table = boto3.resource("dynamodb").Table(TABLE)


@idempotent_function(data_keyword_argument="event", config=config, persistence_store=persistence)
def apply(event: dict) -> dict:
    payload = event["payload"]
    key = {"pk": f"CUSTOMER#{event['customer_id']}", "sk": f"CART#LINE#{payload['sku']}"}
    if event["type"] == "cart.item_added":
        table.update_item(
            Key=key,
            UpdateExpression="ADD q :n",
            ExpressionAttributeValues={":n": payload["quantity"]},
        )
    else:
        quantity = payload.get("quantity", 0)
        table.update_item(
            Key=key,
            UpdateExpression="SET q = :n",
            ExpressionAttributeValues={":n": quantity},
        )
    logger.info("applied", extra={"event_id": event["event_id"], "event_type": event["type"]})
    return {"event_id": event["event_id"]}


def record_handler(record):
    apply(event=json.loads(record.body))


@logger.inject_lambda_context
def lambda_handler(event, context):
    config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
