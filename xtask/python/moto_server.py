"""Starts moto's server with DynamoDB writes made atomic with respect to each other.

moto 5.2 runs TransactWriteItems by deep-copying the tables it touches, applying the items one by
one, and on a failed condition putting the copies back. The server is multi-threaded, so a
PutItem or UpdateItem that another request makes in between is silently undone by that restore.
DynamoDB itself never does that, and the functions rely on it (a refund decision racing with a
cancelled transaction, for example). A stream reader could also see the records of a transaction
that is later rolled back, and then skip the record that takes their sequence number. This
launcher serialises moto's DynamoDB item operations and its stream reads with one lock;
everything else, SQS long polling included, stays concurrent.

It also makes a table query find its partition directly: moto 5.2 answers every Query on the
table itself by walking all of the table's items, so a query costs the size of the table, not of
the partition (about 20 queries a second on a table of 9,000 items). The items are stored by
partition key already; the query is handed only that partition's items, and returns exactly what
it returned before.

And it keeps SQS FIFO deduplication as AWS does: moto 5.2 looks for a message with the same
deduplication id only among the messages still on the queue (a copy sent a second after the
first was received and deleted gets through), and walks the whole queue to do it. The launcher
remembers every deduplication id a FIFO queue accepted with its send time for the 5-minute
window, whether the message is still there or not. (moto's own walk stays: it is cheap on a queue
that is consumed; every queue attribute lookup walks the queue too.)

Usage: python moto_server.py -H 127.0.0.1 -p PORT   (the same arguments as moto_server)
"""

import functools
import inspect
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.server import main
from moto.sqs import models as sqs_models

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

_QUERY_SIGNATURE = inspect.signature(Table.query)


def _partition_query(method):
    """A query on the table itself (no index) sees only its partition's items."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        arguments = _QUERY_SIGNATURE.bind(self, *args, **kwargs).arguments
        hash_key = arguments.get("hash_key")
        if arguments.get("index_name") is not None or hash_key is None:
            return method(self, *args, **kwargs)
        # `in` first: self.items is a defaultdict, and a lookup must not create a partition.
        partition = self.items[hash_key] if hash_key in self.items else {}
        items = list(partition.values()) if self.range_key_attr else [partition]
        self.all_items = lambda: items
        try:
            return method(self, *args, **kwargs)
        finally:
            del self.all_items

    return wrapper


Table.query = _partition_query(Table.query)

_FIFO_LOCK = threading.Lock()


def _deduplicating(method):
    """FIFO deduplication over the window, deleted messages included (see the module docs)."""

    @functools.wraps(method)
    def wrapper(self, message):
        # The field, not `self.attributes`: that property walks the whole queue.
        content_based = getattr(self, "content_based_deduplication", False) in (True, "true")
        if not self.fifo_queue or not (content_based or message.deduplication_id):
            return method(self, message)
        with _FIFO_LOCK:
            if message.deduplication_id is None:
                return method(self, message)
            seen = self.__dict__.setdefault("_deduplication_ids", {})
            window_ms = sqs_models.DEDUPLICATION_TIME_IN_SECONDS * 1000
            first = seen.get(message.deduplication_id)
            if first is not None and message.sent_timestamp - first < window_ms:
                return None
            seen[message.deduplication_id] = message.sent_timestamp
            for expired in [d for d, t in seen.items() if message.sent_timestamp - t >= window_ms]:
                del seen[expired]
            return method(self, message)

    return wrapper


sqs_models.Queue.add_message = _deduplicating(sqs_models.Queue.add_message)

for _backend, _names in [(DynamoDBBackend, _OPERATIONS), (DynamoDBStreamsBackend, _STREAM_OPERATIONS)]:
    for _name in _names:
        if hasattr(_backend, _name):
            setattr(_backend, _name, _serialised(getattr(_backend, _name)))

if __name__ == "__main__":
    main()
