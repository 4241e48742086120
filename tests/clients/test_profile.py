"""`dynasim serve --profile FILE --seed N` through boto3: stale eventually consistent reads,
ProvisionedThroughputExceededException and the SDK's retry succeeding, the same outcomes
from the same seed; `/metrics` read by a real Prometheus parser; Contributor Insights naming
the hot key of a hot-partition run."""
import os
import re
import subprocess
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from conftest import CREDENTIALS, ROOT, launch, stop

pytestmark = pytest.mark.skipif(bool(os.environ.get("DYNASIM_ENDPOINT")),
                                reason="starts its own dynasim servers with profiles")

PROFILES = os.path.join(ROOT, "scenarios", "profiles")


def dynamodb(url, attempts):
    mode = {"max_attempts": attempts, "mode": "legacy"}
    return boto3.client("dynamodb", endpoint_url=url, config=Config(retries=mode), **CREDENTIALS)


def create(client, name, **capacity):
    client.create_table(TableName=name,
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        **capacity)


def metrics(url):
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def stale_profile(tmp_path):
    """ci-stale-and-throttled.toml with a 30 s replica lag instead of 3 s: the reads below
    must fall inside the lag however slowly this machine serves them (the profile's other
    settings, no burst credit among them, are kept)."""
    text = open(os.path.join(PROFILES, "ci-stale-and-throttled.toml")).read()
    assert "replica_lag_ms = [3000, 3000]" in text
    profile = tmp_path / "stale-and-throttled.toml"
    profile.write_text(text.replace("replica_lag_ms = [3000, 3000]", "replica_lag_ms = [30000, 30000]"))
    return str(profile)


def session(profile, seed):
    """One server run: what the client saw, for comparing runs."""
    process, url = launch("--profile", profile, "--seed", str(seed))
    try:
        once, retrying = dynamodb(url, 1), dynamodb(url, 10)
        create(once, "stale", BillingMode="PAY_PER_REQUEST")
        once.put_item(TableName="stale", Item={"pk": {"S": "k"}, "v": {"S": "v1"}})
        once.put_item(TableName="stale", Item={"pk": {"S": "k"}, "v": {"S": "v2"}})
        # Within the profile's 30 s lag, followers have not applied v2 (nor v1).
        seen = []
        for _ in range(24):
            item = once.get_item(TableName="stale", Key={"pk": {"S": "k"}}).get("Item")
            seen.append(item["v"]["S"] if item else None)
            strong = once.get_item(TableName="stale", Key={"pk": {"S": "k"}}, ConsistentRead=True)
            assert strong["Item"]["v"]["S"] == "v2", "strongly consistent reads are never stale"

        create(once, "slow", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 2})
        # The bucket holds 2 units (no burst credit) and refills 2 a second. A write is
        # admitted while it holds at least 1 and then charged its full cost: the first put
        # (1 unit) leaves at least 1, the second (about 5 KB, 5 units) is admitted and leaves
        # the bucket 3 to 4 units in debt, so the third put, and the retrying client's first
        # attempt, are throttled unless 2 s or more have passed since the second put.
        accepted, consumed, error = 0, 0.0, None
        for i in range(20):
            item = {"pk": {"S": f"k{i}"}}
            if i == 1:
                item["pad"] = {"S": "x" * 5000}
            try:
                answer = once.put_item(TableName="slow", Item=item, ReturnConsumedCapacity="TOTAL")
                consumed += answer["ConsumedCapacity"]["CapacityUnits"]
                accepted += 1
            except ClientError as e:
                error = e
                break
        assert error is not None, "a 2 WCU table without burst credit throttles"
        assert error.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        assert error.response["Error"]["Message"].startswith(
            "The level of configured provisioned throughput for the table was exceeded.")
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        # The SDK's retries (backing off while the bucket refills) get the write through.
        answer = retrying.put_item(TableName="slow", Item={"pk": {"S": "retried"}})
        retries = answer["ResponseMetadata"]["RetryAttempts"]
        assert retries >= 1
        assert "Item" in once.get_item(TableName="slow", Key={"pk": {"S": "retried"}}, ConsistentRead=True)

        samples = metrics(url)
        throttles = samples[("dynasim_write_throttle_events_total", (("table", "slow"),))]
        assert throttles >= 1 + retries - 1
        assert samples[("dynasim_consumed_write_capacity_units_total", (("table", "slow"),))] == consumed + 1
        assert samples[("dynasim_provisioned_write_capacity_units", (("table", "slow"),))] == 2
        assert samples[("dynasim_partitions", (("table", "stale"),))] == 4
        return seen, accepted, consumed
    finally:
        stop(process)


def test_profile_shows_stale_reads_and_throttling_reproducibly(tmp_path):
    profile = stale_profile(tmp_path)
    first = session(profile, 11)
    seen, accepted, consumed = first
    assert "v2" in seen, "reads that reach the leader are fresh"
    assert any(value != "v2" for value in seen), f"some eventually consistent reads are stale: {seen}"
    assert set(seen) <= {"v2", None}
    assert (accepted, consumed) == (2, 6.0), "1 unit, then 5 units into debt, then a throttle"
    assert session(profile, 11) == first, "the same seed gives the same answers"
    assert session(profile, 12)[0] != seen, "another seed sends reads to other replicas"


def test_hot_partition_run_names_the_hot_key(tmp_path):
    # hot-partition.toml with partitions of 5 WCU instead of 20: the ceiling holds per
    # wall-clock second, and with 3 writes of every 4 to the hot key, more than 5 of them fall
    # in one second at any pace faster than about 120 ms a request (more than 20 needed one
    # faster than 37 ms).
    text = open(os.path.join(PROFILES, "hot-partition.toml")).read()
    assert "partition_write_units_max = 20\n" in text
    profile = tmp_path / "hotter-partition.toml"
    profile.write_text(text.replace("partition_write_units_max = 20\n", "partition_write_units_max = 5\n"))
    process, url = launch("--profile", str(profile), "--seed", "1")
    try:
        client = dynamodb(url, 1)
        create(client, "events", BillingMode="PAY_PER_REQUEST")
        insights = client.describe_contributor_insights(TableName="events")
        assert insights["ContributorInsightsStatus"] == "ENABLED"
        throttled = 0
        for i in range(30):
            for key in ("hot-key", "hot-key", "hot-key", f"cold-{i}"):
                try:
                    client.put_item(TableName="events", Item={"pk": {"S": key}})
                except ClientError as e:
                    assert e.response["Error"]["Code"] == "ThrottlingException"
                    throttled += 1
        assert throttled > 0, "5 writes per second per partition cannot take this"
        samples = metrics(url)
        accessed = {labels: v for (name, labels), v in samples.items()
                    if name == "dynasim_contributor_insights_key" and ("kind", "accessed") in labels}
        top = max(accessed, key=accessed.get)
        assert ("key", "hot-key") in top
        throttled_keys = {labels for (name, labels) in samples
                          if name == "dynasim_contributor_insights_key" and ("kind", "throttled") in labels}
        assert any(("key", "hot-key") in labels for labels in throttled_keys)
        listed = client.list_contributor_insights()["ContributorInsightsSummaries"]
        # (ContributorInsightsMode is newer than some SDKs, which drop it.)
        assert {"TableName": "events", "ContributorInsightsStatus": "ENABLED"} in [
            {k: v for k, v in s.items() if k != "ContributorInsightsMode"} for s in listed]
    finally:
        stop(process)


def test_contributor_insights_api_switches_tracking(client):
    create(client, "insightful", BillingMode="PAY_PER_REQUEST")
    assert client.describe_contributor_insights(TableName="insightful")["ContributorInsightsStatus"] == "DISABLED"
    answer = client.update_contributor_insights(TableName="insightful", ContributorInsightsAction="ENABLE")
    assert answer["ContributorInsightsStatus"] == "ENABLING"
    described = client.describe_contributor_insights(TableName="insightful")
    assert described["ContributorInsightsStatus"] == "ENABLED"
    assert len(described["ContributorInsightsRuleList"]) == 2
    assert described["LastUpdateDateTime"].year >= 2024
    with pytest.raises(ClientError) as raised:
        client.update_contributor_insights(TableName="missing-table", ContributorInsightsAction="ENABLE")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    client.update_contributor_insights(TableName="insightful", ContributorInsightsAction="DISABLE")
    assert client.describe_contributor_insights(TableName="insightful")["ContributorInsightsStatus"] == "DISABLED"


def test_dynasim_metrics_prints_the_series():
    process, url = launch("--profile", os.path.join(PROFILES, "hot-partition.toml"), "--seed", "3")
    try:
        client = dynamodb(url, 1)
        create(client, "printed", BillingMode="PAY_PER_REQUEST")
        for i in range(5):
            client.put_item(TableName="printed", Item={"pk": {"S": "key-%d" % (i % 2)}})
            client.get_item(TableName="printed", Key={"pk": {"S": "key-0"}})
        binary = os.environ.get("DYNASIM_BIN", os.path.join(ROOT, "target", "debug", "dynasim"))
        out = subprocess.run([binary, "metrics", "--endpoint", url, "--table", "printed"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        # A new on-demand table serves 4,000 WRU at once: 200 partitions of 20 WCU here.
        assert "table printed (200 partitions)" in out.stdout
        # One row per wall-clock minute (HH:MM, read CU, write CU, ...): the requests may
        # straddle a minute boundary, so the rows are summed. 5 eventually consistent gets, 5 puts.
        rows = [line.split() for line in out.stdout.splitlines()
                if re.fullmatch(r"\d\d:\d\d", (line.split() or [""])[0])]
        assert rows, out.stdout
        assert (sum(float(r[1]) for r in rows), sum(float(r[2]) for r in rows)) == (2.5, 5.0), out.stdout
        assert "most accessed keys" in out.stdout and "key-0" in out.stdout
        missing = subprocess.run([binary, "metrics", "--endpoint", url, "--table", "absent"],
                                 capture_output=True, text=True, timeout=30)
        assert missing.returncode == 1 and "no table absent" in missing.stderr
    finally:
        stop(process)


def test_a_bad_profile_is_refused_with_every_error(tmp_path):
    binary = os.environ.get("DYNASIM_BIN", os.path.join(ROOT, "target", "debug", "dynasim"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[defaults]\nreplica_lag_ms = [10, 5]\n[limits]\nburst_seconds = -1\n")
    out = subprocess.run([binary, "serve", "--listen", "127.0.0.1:0", "--profile", str(bad)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "replica_lag_ms: min 10 exceeds max 5" in out.stderr
    assert "burst_seconds must not be negative" in out.stderr
    typo = tmp_path / "typo.toml"
    typo.write_text("[defaults]\nthrottle = true\n")
    out = subprocess.run([binary, "serve", "--listen", "127.0.0.1:0", "--profile", str(typo)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "unknown field `throttle`" in out.stderr


def test_item_collection_limit_through_boto3(tmp_path):
    """A profile lowers the 10 GB item-collection limit; boto3 meets
    ItemCollectionSizeLimitExceededException on the write that would pass it, and a write that
    does not grow the collection, or goes to another one, still succeeds."""
    profile = tmp_path / "small-collections.toml"
    profile.write_text("[limits]\nitem_collection_bytes_max = 3000\n")
    process, url = launch("--profile", str(profile), "--seed", "1")
    try:
        client = dynamodb(url, 1)
        client.create_table(
            TableName="collections",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                                  for a in ("pk", "sk", "alt")],
            LocalSecondaryIndexes=[{
                "IndexName": "by_alt",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "alt", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"}}],
            BillingMode="PAY_PER_REQUEST")

        def put(pk, sk, size):
            return client.put_item(
                TableName="collections",
                Item={"pk": {"S": pk}, "sk": {"S": sk}, "alt": {"S": sk},
                      "data": {"S": "x" * size}},
                ReturnItemCollectionMetrics="SIZE")

        written = 0
        with pytest.raises(ClientError) as refused:
            while written < 50:
                answer = put("a", f"s{written:02}", 300)
                assert answer["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": {"S": "a"}}
                written += 1
        error = refused.value.response
        assert error["Error"]["Code"] == "ItemCollectionSizeLimitExceededException"
        assert error["Error"]["Message"] == "Collection size exceeded."
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert 2 <= written <= 5
        count = client.query(TableName="collections", KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "a"}}, Select="COUNT")
        assert count["Count"] == written, "the refused put wrote nothing"
        put("a", "s00", 300)        # the same size again: the collection does not grow
        put("b", "s00", 300)        # another partition key, another collection
    finally:
        stop(process)


def test_gsi_created_on_a_populated_table_backfills_through_boto3(tmp_path):
    """A profile sets how long a new GSI allocates and backfills: boto3 sees CREATING with
    Backfilling, a query of the index refused meanwhile, a second index refused, then ACTIVE
    with every item indexed."""
    profile = tmp_path / "slow-backfill.toml"
    profile.write_text("[limits]\nindex_creating_ms = 300\nindex_backfill_ms_per_mib = 60000\n")
    process, url = launch("--profile", str(profile), "--seed", "1")
    try:
        client = dynamodb(url, 1)
        client.create_table(TableName="backfill", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        for i in range(40):  # about 80 KB: a backfill of about 4.5 s
            client.put_item(TableName="backfill", Item={"pk": {"S": f"k{i}"}, "g": {"S": "same"},
                                                       "pad": {"S": "x" * 2000}})

        def create_index(name, attribute):
            return client.update_table(
                TableName="backfill", AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"}],
                GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": name, "KeySchema": [
                    {"AttributeName": attribute, "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}}])

        create_index("by_g", "g")
        seen = set()
        second_refused, reads_refused = False, 0
        deadline = time.time() + 30
        query = dict(TableName="backfill", IndexName="by_g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "same"}}, Select="COUNT")
        while time.time() < deadline:
            table = client.describe_table(TableName="backfill")["Table"]
            index = table["GlobalSecondaryIndexes"][0]
            seen.add((index["IndexStatus"], index.get("Backfilling")))
            if index["IndexStatus"] == "ACTIVE":
                break
            assert table["TableStatus"] == "ACTIVE"
            try:
                client.query(**query)
            except ClientError as refused:
                assert refused.response["Error"]["Message"] == \
                    "Cannot read from backfilling global secondary index: by_g"
                reads_refused += 1
            else:  # the backfill ended between the DescribeTable and the Query
                index = client.describe_table(TableName="backfill")["Table"]["GlobalSecondaryIndexes"][0]
                assert index["IndexStatus"] == "ACTIVE", index
                continue
            if index.get("Backfilling") and not second_refused:
                # Asked once, right after the backfill starts: asked again near its end, the
                # backfill may finish between the DescribeTable and the UpdateTable.
                with pytest.raises(ClientError) as second:
                    create_index("by_h", "h")
                assert second.value.response["Error"]["Code"] == "LimitExceededException"
                second_refused = True
            time.sleep(0.1)
        assert second_refused and reads_refused > 0
        assert ("CREATING", True) in seen and ("ACTIVE", None) in seen, seen
        assert client.query(**query)["Count"] == 40
    finally:
        stop(process)
