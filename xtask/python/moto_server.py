"""Starts moto's server with DynamoDB writes made atomic with respect to each other.

moto 5.2 runs TransactWriteItems by deep-copying the tables it touches, applying the items one by
one, and on a failed condition putting the copies back. The server is multi-threaded, so a
PutItem or UpdateItem that another request makes in between is silently undone by that restore.
DynamoDB itself never does that, and the functions rely on it (a refund decision racing with a
cancelled transaction, for example). A stream reader could also see the records of a transaction
that is later rolled back, and then skip the record that takes their sequence number. This
launcher serialises moto's DynamoDB item operations and its stream reads with one lock;
everything else, SQS long polling included, stays concurrent.

Usage: python moto_server.py -H 127.0.0.1 -p PORT   (the same arguments as moto_server)
"""

import functools
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
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


_STREAM_OPERATIONS = ["describe_stream", "get_shard_iterator", "get_records", "list_streams"]

def _keeping_stream_shards(method):
    """On a failed transaction moto swaps in a snapshot of each table, stream shard included:
    the old shard keeps the rolled-back transaction's records and open iterators keep reading
    it. Put the old shard back, trimmed to its length before the transaction."""

    @functools.wraps(method)
    def wrapper(self, transact_items, *args, **kwargs):
        shards = {}
        for item in transact_items:
            _, op = next(iter(item.items()))
            table = self.tables.get(op.get("TableName"))
            shard = getattr(table, "stream_shard", None) if table else None
            if shard is not None:
                shards[table.name] = (shard, len(shard.items))
        try:
            return method(self, transact_items, *args, **kwargs)
        except Exception:
            for name, (shard, length) in shards.items():
                del shard.items[length:]
                restored = self.tables.get(name)
                if restored is not None:
                    restored.stream_shard = shard
                    shard.table = restored
            raise

    return wrapper


DynamoDBBackend.transact_write_items = _keeping_stream_shards(DynamoDBBackend.transact_write_items)

for _backend, _names in [(DynamoDBBackend, _OPERATIONS), (DynamoDBStreamsBackend, _STREAM_OPERATIONS)]:
    for _name in _names:
        if hasattr(_backend, _name):
            setattr(_backend, _name, _serialised(getattr(_backend, _name)))

if __name__ == "__main__":
    main()
