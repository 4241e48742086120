"""`dynasim serve --data-dir` as a user's machine treats it: clients writing under load, the
server killed with SIGKILL at random moments, restarted on the same directory, and every
acknowledged write still there, every item intact (its content matches its checksum), every
acknowledged increment counted. Also: a second server on the same directory is refused, and a
damaged directory is an error naming the file and offset, not an empty table.
"""
import hashlib
import os
import random
import signal
import threading
import time

import boto3
import pytest
from botocore.config import Config

from conftest import CREDENTIALS, launch, stop

ROUNDS = 20
WRITERS = 4
PUTS_PER_ROUND = 10  # more than this many acknowledged before each kill
TABLE = "crash_test"


def connect(url):
    config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5,
                    max_pool_connections=WRITERS * 2)
    return boto3.client("dynamodb", endpoint_url=url, config=config, **CREDENTIALS)


def digest(key, payload):
    return hashlib.sha256(f"{key}/{payload}".encode()).hexdigest()


def create_table(client):
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "round", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_round",
                                 "KeySchema": [{"AttributeName": "round", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST")
    deadline = time.time() + 10
    while client.describe_table(TableName=TABLE)["Table"]["TableStatus"] != "ACTIVE":
        assert time.time() < deadline, "the table did not become ACTIVE"
        time.sleep(0.05)


class Writers:
    """Threads that put new items and increment per-thread counters until stopped, recording
    what the server acknowledged."""

    def __init__(self, url, round_number, rng):
        self.url = url
        self.round = round_number
        self.acked = {}  # key -> payload
        self.increments_acked = [0] * WRITERS
        self.increments_sent = [0] * WRITERS
        self.payload_bytes = [rng.randrange(10, 3000) for _ in range(WRITERS)]
        self.stop = threading.Event()
        self.lock = threading.Lock()
        # Built here, before the clock of the round starts (and not concurrently in threads).
        self.clients = [connect(url) for _ in range(WRITERS)]
        self.threads = [threading.Thread(target=self.write, args=(i,), daemon=True)
                        for i in range(WRITERS)]

    def write(self, writer):
        client = self.clients[writer]
        n = 0
        while not self.stop.is_set():
            n += 1
            key = f"r{self.round}-w{writer}-{n}"
            payload = f"{n:08d}" + "x" * (self.payload_bytes[writer] + n % 17)
            try:
                client.put_item(TableName=TABLE, Item={
                    "pk": {"S": key}, "round": {"N": str(self.round)}, "payload": {"S": payload},
                    "digest": {"S": digest(key, payload)}})
                with self.lock:
                    self.acked[key] = payload
                self.increments_sent[writer] += 1
                client.update_item(TableName=TABLE, Key={"pk": {"S": f"counter-{writer}"}},
                                   UpdateExpression="ADD n :one",
                                   ExpressionAttributeValues={":one": {"N": "1"}})
                self.increments_acked[writer] += 1
            except Exception:  # the server was killed: the outcome of this request is unknown
                return

    def start(self):
        for t in self.threads:
            t.start()

    def wait_for(self, count, timeout):
        """Until more than `count` puts were acknowledged, or `timeout` seconds passed."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.acked) > count:
                    return
            time.sleep(0.01)

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


def scan_all(client):
    items, start = [], None
    while True:
        kwargs = {"TableName": TABLE, "ConsistentRead": True}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def check_recovered(client, acked, increments):
    items = {item["pk"]["S"]: item for item in scan_all(client)}
    for key, payload in acked.items():
        assert key in items, f"acknowledged write {key} is lost"
        assert items[key]["payload"]["S"] == payload, f"{key} came back different"
    for key, item in items.items():
        if key.startswith("counter-"):
            continue
        assert item["digest"]["S"] == digest(key, item["payload"]["S"]), f"{key} is damaged"
    for writer, (low, high) in enumerate(increments):
        got = int(items.get(f"counter-{writer}", {"n": {"N": "0"}})["n"]["N"])
        assert low <= got <= high, f"counter {writer} is {got}: acknowledged {low}, sent {high}"
    # The index holds what the table holds.
    by_index = 0
    for round_number in {int(i["round"]["N"]) for i in items.values() if "round" in i}:
        page = client.query(TableName=TABLE, IndexName="by_round",
                            KeyConditionExpression="#r = :r", ExpressionAttributeNames={"#r": "round"},
                            ExpressionAttributeValues={":r": {"N": str(round_number)}}, Select="COUNT")
        by_index += page["Count"]
    assert by_index == sum(1 for i in items.values() if "round" in i)
    return len(items)


def test_acknowledged_writes_survive_kill_9(tmp_path):
    data_dir = str(tmp_path / "data")
    rng = random.Random(int(os.environ.get("CRASH_TEST_SEED", "7")))
    acked = {}
    increments = [(0, 0)] * WRITERS  # per counter: (acknowledged, sent) over all rounds
    started = time.time()
    process, url = launch("--data-dir", data_dir)
    create_table(connect(url))
    total_acked = 0
    for round_number in range(ROUNDS):
        writers = Writers(url, round_number, rng)
        writers.start()
        # More than 10 acknowledged puts per round (so more than ROUNDS * 10 in all, below),
        # then the kill at a random moment after that.
        writers.wait_for(PUTS_PER_ROUND, timeout=10)
        time.sleep(rng.uniform(0.05, 0.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        writers.join()
        acked.update(writers.acked)
        total_acked += len(writers.acked)
        increments = [(low + writers.increments_acked[w], high + writers.increments_sent[w])
                      for w, (low, high) in enumerate(increments)]
        process, url = launch("--data-dir", data_dir)
        check_recovered(connect(url), acked, increments)
        assert time.time() - started < 240, "the crash test is bounded in time"
    stop(process)
    print(f"{ROUNDS} kills, {total_acked} acknowledged puts, increments {increments}")
    assert total_acked > ROUNDS * PUTS_PER_ROUND, f"only {total_acked} writes were acknowledged in all"
    # A clean stop leaves a snapshot; the next start recovers from it.
    process, url = launch("--data-dir", data_dir)
    assert check_recovered(connect(url), acked, increments) >= len(acked)
    stop(process)


def test_a_second_server_on_the_directory_is_refused(tmp_path):
    data_dir = str(tmp_path / "data")
    process, _ = launch("--data-dir", data_dir)
    try:
        with pytest.raises(RuntimeError, match="another dynasim is using the data directory"):
            launch("--data-dir", data_dir)
    finally:
        stop(process)


def test_a_damaged_directory_is_an_error_naming_file_and_offset(tmp_path):
    data_dir = tmp_path / "data"
    process, url = launch("--data-dir", str(data_dir))
    create_table(connect(url))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    segment = next(p for p in data_dir.iterdir() if p.name.startswith("wal-"))
    data = bytearray(segment.read_bytes())
    data[8] = 99  # the format version
    segment.write_bytes(bytes(data))
    with pytest.raises(RuntimeError) as raised:
        launch("--data-dir", str(data_dir))
    message = str(raised.value)
    assert f"{segment.name} at offset 0: format version 99" in message, message
