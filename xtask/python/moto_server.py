"""Starts moto's server with DynamoDB writes made atomic with respect to each other.

moto 5.2 runs TransactWriteItems by deep-copying the tables it touches, applying the items one by
one, and on a failed condition putting the copies back. The server is multi-threaded, so a
PutItem or UpdateItem that another request makes in between is silently undone by that restore.
DynamoDB itself never does that, and the functions rely on it (a refund decision racing with a
cancelled transaction, for example). This launcher serialises moto's DynamoDB item operations
with one lock; everything else, SQS long polling included, stays concurrent.

Usage: python moto_server.py -H 127.0.0.1 -p PORT   (the same arguments as moto_server)
"""

import functools
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_LOCK = threading.RLock()

_OPERATIONS = [
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "batch_write_item",
    "batch_get_item",
    "transact_write_items",
    "transact_get_items",
]


def _serialised(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


for _name in _OPERATIONS:
    if hasattr(DynamoDBBackend, _name):
        setattr(DynamoDBBackend, _name, _serialised(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    main()
