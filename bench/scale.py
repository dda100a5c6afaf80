"""A model of the design at internet scale, and what each request costs (`python -m bench.scale`).

Pure arithmetic, no AWS and no network: it runs in well under a second, inside `make bench`
(after the measurements, reading `bench/results.json`) or alone. From request rates per
operation and a distribution of people per owner it computes, for each workload:

- per-partition-key read and write rates on the table and on the `by-owner` index (one owner's
  people all share ONE index partition key, `list_owner`), against DynamoDB's per-partition
  limits of 3,000 RCU/s and 1,000 WCU/s, and the table's on-demand quota;
- Lambda concurrency (rate × duration, durations from the warm benchmark), against the API
  function's reserved concurrency (`.chalice/config.json`) and the account's limit;
- API Gateway, SNS, the stream publisher and the webhook deliveries' SQS rates;
- and, every load being linear in the request rate, the first limit the workload hits and at
  what rate.

Item sizes come from the real item shapes: the person item the warm benchmark feeds the app
(`bench.canned`, every optional field filled: a large person), and the history entry and
idempotency record the app writes for it, sized by DynamoDB's rules (attribute names count).

`--readme` also rewrites the README's generated tables (between the `scale:` markers), so the
README's figures always come from this code. Every constant below that is not measured says
where it comes from; prices and quotas must be checked against AWS's pages before relying on
them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import canned

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# --- prices: AWS list prices, us-east-1, as published in November 2024 (after DynamoDB's
# on-demand cut of 1 November 2024). Check them on AWS's pricing pages before relying on them.
PRICES_AS_OF = "November 2024 list prices, us-east-1 (check AWS's pricing pages: they change)"
PRICE = {
    "apigw_rest_per_million": 3.50,  # REST API, first 333 million requests a month
    "lambda_gb_second": 0.0000166667,  # x86
    "lambda_per_million": 0.20,
    "ddb_wru_per_million": 0.625,  # on-demand, after the November 2024 cut (was 1.25)
    "ddb_rru_per_million": 0.125,  # on-demand, after the November 2024 cut (was 0.25)
    "ddb_storage_gb_month": 0.25,
    "ddb_pitr_gb_month": 0.20,
    "sns_publish_per_million": 0.50,  # deliveries to Lambda are free
    "sqs_per_million": 0.40,  # standard queue, per 64 KiB request chunk
    "logs_ingest_gb": 0.50,  # CloudWatch Logs ingestion
}

# --- quotas: AWS's documented defaults (most are adjustable per account).
LIMIT = {
    "partition_rcu": 3000.0,  # per partition, so at most this per partition key
    "partition_wcu": 1000.0,
    "table_rru": 40000.0,  # on-demand per-table default quota
    "table_wru": 40000.0,
    "lambda_account_concurrency": 1000.0,
    "apigw_rps": 10000.0,  # account-level steady-state throttle per region
    "sns_publish_tps": 30000.0,  # us-east-1 Publish quota
    "sqs_in_flight": 120000.0,  # standard queue: received but not yet deleted
}

# --- assumptions (not measured here; each is named where it is used).
LAMBDA_FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, proportionally less below
DDB_LATENCY_S = {"single": 0.005, "query": 0.010}  # in-region round trip, "single-digit ms"
SNS_PUBLISH_S = 0.015  # one Publish round trip from Lambda
STREAM_SHARDS_MIN = 4  # a new on-demand table starts with about 4 partitions (12,000 RCU / 3,000)
LOG_LINE_BYTES = 300  # one JSON request log line
WEBHOOK_RETRY_DELAYS_S = (5, 300, 1800, 7200, 18000, 36000, 36000)  # issue 14's schedule
WEBHOOK_TIMEOUT_S = 10.0  # issue 14: a delivery waits at most 10 s
WEBHOOK_FAST_FAIL_S = 0.05  # connection refused: the endpoint's host answers, its server is down
DELIVERY_SQS_REQUESTS = 3  # per attempt: send (or re-send), receive, delete


# --- DynamoDB item sizes and capacity units ---------------------------------------------


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value, by DynamoDB's sizing rules."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in raw.items())
    if kind == "SS":
        return sum(len(s.encode()) for s in raw)
    raise ValueError(f"no size rule for {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of an item: each attribute's name (UTF-8) plus its value."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """Write request units of one write of an item of `size` bytes (1 per KB, rounded up)."""
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    """Read request units of reading `size` bytes at once (1 per 4 KB; half if eventually consistent)."""
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def _s(text: str) -> dict[str, str]:
    return {"S": text}


def person_item() -> dict[str, Any]:
    """The person item as stored (the shape the warm benchmark serves the app), every field set."""
    return canned._item(canned.PERSON_ID)


def history_item() -> dict[str, Any]:
    """A history entry for an update of that person: the event's before and after, as JSON text."""
    event = json.loads(canned.change_message())
    after = json.dumps(event["data"]["after"], separators=(",", ":"))
    return {
        "pk": _s(f"PERSON#{canned.PERSON_ID}"),
        "sk": _s("HISTORY#0000000002"),
        "owner": _s(canned.OWNER),
        "event_id": _s(event["id"]),
        "type": _s("people.person.updated"),
        "time": _s(event["time"]),
        "actor": _s(canned.OWNER),
        "changed_fields": {"L": [_s("notes")]},
        "before": _s(after),
        "after": _s(after),
        "expires_at": {"N": "1775001600"},
    }


def idempotency_item() -> dict[str, Any]:
    """The Idempotency-Key record written beside a created person: fingerprint and response."""
    response = json.dumps(json.loads(canned.change_message())["data"]["after"], separators=(",", ":"))
    return {
        "pk": _s(f"IDEMPOTENCY#{canned.OWNER}#{'0' * 64}"),
        "sk": _s("IDEMPOTENCY"),
        "fingerprint": _s("0" * 64),
        "person_id": _s(canned.PERSON_ID),
        "response": _s(response),
        "created_at": _s("2026-01-01T00:00:00.000Z"),
        "expires_at": {"N": "1767312000"},
    }


# --- measured durations ------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """What the benchmark measured: warm compute per operation, and where it came from."""

    compute_s: dict[str, float]  # warm time per request, DynamoDB answered locally (no I/O)
    source: str
    memory_mb: dict[str, int]
    reserved_api: int | None
    counted_requests: dict[str, float] = field(default_factory=dict)


# Used only when bench/results.json lacks a figure (a run that skipped the warm section).
FALLBACK_COMPUTE_S = {"get": 0.0007, "create": 0.0008, "list": 0.0045}
_WARM_KEYS = {"get": "warm.get_person", "create": "warm.create_person", "list": "warm.list_people"}


def _config_memory() -> tuple[dict[str, int], int | None]:
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    prod = stages["prod"]
    functions = prod.get("lambda_functions", {})
    default = int(prod.get("lambda_memory_size", 128))
    memory = {
        name: int(functions.get(name, {}).get("lambda_memory_size", default))
        for name in ("api_handler", "publish_changes", "record_notification")
    }
    memory["webhook_delivery"] = int(functions.get("deliver_webhooks", {}).get("lambda_memory_size", default))
    reserved = functions.get("api_handler", {}).get("reserved_concurrency")
    return memory, int(reserved) if reserved is not None else None


def load_measured(results: Path = HERE / "results.json") -> Measured:
    memory, reserved = _config_memory()
    compute = dict(FALLBACK_COMPUTE_S)
    source = "fallback figures (no bench/results.json)"
    counted: dict[str, float] = {}
    if results.exists():
        data = json.loads(results.read_text())
        figures = {f["key"]: f for f in data["figures"]}
        found = {op: figures[key] for op, key in _WARM_KEYS.items() if figures.get(key, {}).get("value")}
        for op, figure in found.items():
            compute[op] = float(figure["value"])
        python = next((f["detail"].get("python") for f in found.values() if "python" in f["detail"]), None)
        python = python or data["meta"].get("python", "?")
        source = f"warm medians of the bench run of {data['meta'].get('when', '?')} on Python {python}"
        if len(found) < len(_WARM_KEYS):
            source += f" (fallback for {', '.join(sorted(set(_WARM_KEYS) - set(found)))})"
        counted = {k: float(f["value"]) for k, f in figures.items() if k.startswith("ddb.") and f["value"]}
    return Measured(compute, source, memory, reserved, counted)


# --- operations --------------------------------------------------------------------------

PAGE = 50


@dataclass(frozen=True)
class Operation:
    """One kind of API request: its DynamoDB units, where they land, and its Lambda time."""

    name: str
    table_rru: float = 0.0  # on the person's own partition key
    table_wru: float = 0.0
    index_rru: float = 0.0  # on the owner's `by-owner` partition key
    index_wru: float = 0.0
    other_wru: float = 0.0  # elsewhere (the idempotency record's own key)
    compute: str = "get"  # which warm figure is its compute
    io: str = "single"
    events: int = 0  # change events it causes (stream record -> SNS -> history)
    counted: str = ""  # its row in make bench's DynamoDB section (requests per operation)


def operations() -> dict[str, Operation]:
    person = item_size(person_item())
    idem = item_size(idempotency_item())
    w = write_units(person)
    page = read_units((PAGE + 1) * person, consistent=False)  # the index is eventually consistent
    return {
        "get": Operation(
            "GET /people/{id}", table_rru=read_units(person, consistent=True), counted="ddb.get"
        ),
        "list": Operation(
            "GET /people (page of 50)", index_rru=page, compute="list", io="query", counted="ddb.list"
        ),
        "create": Operation(
            "POST /people", table_wru=w, index_wru=w, compute="create", events=1, counted="ddb.create"
        ),
        # A transaction bills 2 units per KB per item: the person and the key record.
        "create_idempotent": Operation(
            "POST /people with Idempotency-Key",
            table_wru=2 * w,
            index_wru=w,
            other_wru=2 * write_units(idem),
            compute="create",
            events=1,
            counted="ddb.create.idempotent",
        ),
        "update": Operation(
            "PUT or PATCH /people/{id}",
            table_wru=w,
            index_wru=w,
            compute="create",
            events=1,
            counted="ddb.put",
        ),
        # The soft delete removes `list_owner`: one write to the table, one removal from the index.
        "delete": Operation(
            "DELETE /people/{id}", table_wru=w, index_wru=w, compute="create", events=1, counted="ddb.delete"
        ),
    }


def lambda_seconds(op: Operation, measured: Measured, function: str = "api_handler") -> float:
    """Duration on Lambda: the measured compute scaled to the function's share of a vCPU, plus I/O."""
    share = min(1.0, measured.memory_mb[function] / LAMBDA_FULL_VCPU_MB)
    return measured.compute_s[op.compute] / share + DDB_LATENCY_S[op.io]


def event_seconds(measured: Measured) -> dict[str, float]:
    """Per change event: publish_changes (one Publish per record) and record_notification (one put)."""
    history = Operation("history", compute="create")
    return {
        "publish_changes": SNS_PUBLISH_S,
        "record_notification": lambda_seconds(history, measured, "record_notification"),
    }


def history_wru() -> int:
    return write_units(item_size(history_item()))


# --- cost ---------------------------------------------------------------------------------


def _gb_seconds(seconds: float, memory_mb: int) -> float:
    billed = math.ceil(seconds * 1000) / 1000  # Lambda bills per 1 ms
    return billed * memory_mb / 1024


def cost_per_million(op: Operation, measured: Measured) -> dict[str, float]:
    """Dollars per million requests of `op`, by line item (change events included).

    DynamoDB units per request come from the item sizes; the requests per operation are the ones
    `make bench` counted (1 each today), so a change that added a request would show here.
    """
    m = 1e6
    requests = measured.counted_requests.get(op.counted, 1.0)
    lines = {
        "API Gateway": PRICE["apigw_rest_per_million"],
        "Lambda (API)": PRICE["lambda_per_million"]
        + m
        * _gb_seconds(lambda_seconds(op, measured), measured.memory_mb["api_handler"])
        * PRICE["lambda_gb_second"],
        "DynamoDB reads": requests * (op.table_rru + op.index_rru) * PRICE["ddb_rru_per_million"],
        "DynamoDB writes": requests
        * (op.table_wru + op.index_wru + op.other_wru)
        * PRICE["ddb_wru_per_million"],
        "CloudWatch Logs": m * LOG_LINE_BYTES / 1e9 * PRICE["logs_ingest_gb"],
    }
    if op.events:
        seconds = event_seconds(measured)
        # At low rates each stream record is its own invocation (the costly case); batches share one.
        lambda_events = sum(
            PRICE["lambda_per_million"]
            + m * _gb_seconds(seconds[f], measured.memory_mb[f]) * PRICE["lambda_gb_second"]
            for f in ("publish_changes", "record_notification")
        )
        lines["Change event: SNS publish"] = op.events * PRICE["sns_publish_per_million"]
        lines["Change event: Lambda (stream + history)"] = op.events * lambda_events
        lines["Change event: history write"] = op.events * history_wru() * PRICE["ddb_wru_per_million"]
        # Stream reads by Lambda and SNS deliveries to Lambda are free.
    return lines


def webhook_cost_per_million_deliveries(measured: Measured, seconds: float = 0.2) -> dict[str, float]:
    """Planned (issue 14): one SQS message per endpoint per event, delivered by a Lambda in ~0.2 s."""
    mem = measured.memory_mb["webhook_delivery"]
    return {
        "SQS (send, receive, delete)": DELIVERY_SQS_REQUESTS * PRICE["sqs_per_million"],
        "Lambda (delivery)": PRICE["lambda_per_million"]
        + 1e6 * _gb_seconds(seconds, mem) * PRICE["lambda_gb_second"],
        "DynamoDB (delivery record)": 1 * PRICE["ddb_wru_per_million"],
    }


def idle_month(table_gb: float = 0.001) -> dict[str, float]:
    """A stage with no traffic: storage and continuous backups of a small table; nothing else bills."""
    return {
        "DynamoDB storage": table_gb * PRICE["ddb_storage_gb_month"],
        "DynamoDB point-in-time recovery": table_gb * PRICE["ddb_pitr_gb_month"],
        "Lambda, API Gateway, SNS, SQS (no pollers today), Cognito (free tier), SSM standard parameter": 0.0,
    }


# --- owners --------------------------------------------------------------------------------


def hottest_share(owners: int, distribution: str, exponent: float = 1.0) -> float:
    """The largest owner's share of all people: 1/owners when uniform, 1/H(owners, s) for Zipf."""
    if distribution == "uniform":
        return 1 / owners
    if distribution == "zipf":
        if owners <= 100_000:
            harmonic = sum(float(k) ** -exponent for k in range(1, owners + 1))
        elif exponent == 1.0:  # H(n) = ln n + γ + 1/(2n) - ...: exact to 1e-10 at this size
            harmonic = math.log(owners) + 0.5772156649015329 + 1 / (2 * owners)
        else:
            head = sum(float(k) ** -exponent for k in range(1, 100_001))
            tail = ((owners + 0.5) ** (1 - exponent) - 100_000.5 ** (1 - exponent)) / (1 - exponent)
            harmonic = head + tail
        return float(1 / harmonic)
    raise ValueError(f"unknown distribution {distribution!r}")


# --- workloads and limits ------------------------------------------------------------------


@dataclass(frozen=True)
class Design:
    """The knobs the design answers a limit with; the default is the design as deployed today."""

    index_shards: int = 1  # write sharding: list_owner = owner#0..N-1, a page merges N Queries
    stream_parallelization: int = 1  # Lambda's ParallelizationFactor per stream shard (max 10)
    publish_batch: int = 1  # events per SNS request (PublishBatch takes 10)
    webhook_backoff: str = "visibility"  # or "delay": re-send with DelaySeconds, hop by hop
    delivery_reserved: int | None = None  # reserved concurrency of the delivery function
    api_reserved: int | None = None  # overrides .chalice/config.json's prod value
    owner_write_limit: float | None = None  # per-owner write throttle (req/s) at the API
    endpoint_breaker: bool = False  # a failing endpoint gets one probe a minute, the rest wait

    def describe(self) -> str:
        parts = []
        if self.index_shards > 1:
            parts.append(f"by-owner key sharded {self.index_shards} ways")
        if self.stream_parallelization > 1:
            parts.append(f"ParallelizationFactor {self.stream_parallelization}")
        if self.publish_batch > 1:
            parts.append(f"PublishBatch of {self.publish_batch}")
        if self.webhook_backoff == "delay":
            parts.append("retries re-sent with DelaySeconds (not held in flight)")
        if self.delivery_reserved is not None:
            parts.append(f"delivery function reserved concurrency {self.delivery_reserved}")
        if self.api_reserved is not None:
            parts.append(f"API reserved concurrency {self.api_reserved}")
        if self.owner_write_limit is not None:
            parts.append(f"writes throttled to {self.owner_write_limit:g}/s per owner (429)")
        if self.endpoint_breaker:
            parts.append("a failing endpoint gets one probe a minute while its messages wait")
        return ", ".join(parts) or "as deployed"


TODAY = Design()


@dataclass(frozen=True)
class Workload:
    """Request rates per operation (per second), and how people and activity spread over owners."""

    name: str
    rates: dict[str, float]
    owners: int = 1_000_000
    people: int = 100_000_000
    distribution: str = "uniform"
    # The share of owner-keyed activity (lists and writes) of the busiest owner; default: its
    # share of the people (activity follows what one owns).
    hot_owner_share: float | None = None
    # The busiest single person's share of writes (updates of one person hit one partition key).
    hot_person_writes: float = 0.0
    webhook_endpoints_per_event: float = 0.0
    webhook_down_seconds: float = 0.0
    webhook_fails_slowly: bool = True
    note: str = ""
    answer: Design | None = None  # how the design answers the limit this workload hits

    def owner_share(self) -> float:
        if self.hot_owner_share is not None:
            return self.hot_owner_share
        return hottest_share(self.owners, self.distribution)


@dataclass(frozen=True)
class Load:
    """One limit and what the workload, at its stated rates, puts on it."""

    resource: str
    load: float
    limit: float
    unit: str

    @property
    def utilisation(self) -> float:
        return self.load / self.limit if self.limit else math.inf


def webhook_attempts_in_outage(down_s: float, delays: Sequence[float] = WEBHOOK_RETRY_DELAYS_S) -> float:
    """Attempts per second of events, made while an endpoint is down for `down_s` seconds.

    An event arriving at t (uniform over the outage) is tried at t and then after each cumulative
    delay; those that fall inside the outage fail. Summed over the outage: Σ max(0, down - D_i).
    """
    cumulative = [0.0]
    for delay in delays:
        cumulative.append(cumulative[-1] + delay)
    return sum(max(0.0, down_s - d) for d in cumulative)


SQS_MAX_DELAY_S = 900  # DelaySeconds is at most 15 minutes: longer waits re-send hop by hop


def delay_hops(down_s: float, delays: Sequence[float] = WEBHOOK_RETRY_DELAYS_S) -> float:
    """Re-sends per event/s over an outage when back-off uses DelaySeconds (15-minute hops).

    An event arriving at t waits each delay whose start falls inside the outage; each wait of
    d seconds takes ceil(d / 900) hops (averaged over arrivals, as in webhook_attempts_in_outage).
    """
    start, hops = 0.0, 0.0
    for delay in delays:
        hops += math.ceil(delay / SQS_MAX_DELAY_S) * max(0.0, down_s - start)
        start += delay
    return hops


def outage_hold_cost(events_per_s: float, down_s: float) -> float:
    """Dollars of SQS requests (send, receive, delete per hop) to hold an outage's retries by hops."""
    requests = events_per_s * delay_hops(down_s) * DELIVERY_SQS_REQUESTS
    return requests / 1e6 * PRICE["sqs_per_million"]


def webhook_waiting(down_s: float, delays: Sequence[float] = WEBHOOK_RETRY_DELAYS_S) -> float:
    """Seconds of events whose retries are waiting at the end of an outage (per event/s).

    With back-off by visibility timeout these messages are all in flight at once; events older
    than the whole schedule have gone to the failure queue.
    """
    return min(down_s, float(sum(delays)))


def loads(w: Workload, measured: Measured, design: Design = TODAY) -> list[Load]:
    ops = operations()
    rate = {name: w.rates.get(name, 0.0) for name in ops}
    owner = w.owner_share()
    if design.owner_write_limit is not None:
        # The API answers 429 beyond the owner's allowance: only the busiest owner's writes shrink.
        owner_writes = owner * sum(r for n, r in rate.items() if ops[n].events)
        if owner_writes > design.owner_write_limit:
            cut = (owner_writes - design.owner_write_limit) / sum(r for n, r in rate.items() if ops[n].events)
            rate = {n: r * (1 - cut) if ops[n].events else r for n, r in rate.items()}
    total = sum(rate.values())
    writes = sum(r * ops[n].events for n, r in rate.items())
    shards_n = design.index_shards
    # Sharded: a key takes 1/N of the owner's writes; a page asks each of the N keys for 51 items.
    index_rcu = owner * sum(r * ops[n].index_rru for n, r in rate.items())
    index_wcu = owner * sum(r * ops[n].index_wru for n, r in rate.items()) / shards_n
    table_rru = sum(r * (ops[n].table_rru + ops[n].index_rru * shards_n) for n, r in rate.items())
    # The busiest person: its own writes plus the history entries they cause, on one key.
    person_wcu = sum(
        w.hot_person_writes * r * (ops[n].table_wru + ops[n].events * history_wru()) for n, r in rate.items()
    )
    table_wru = sum(r * (ops[n].table_wru + ops[n].index_wru + ops[n].other_wru) for n, r in rate.items())
    table_wru += writes * history_wru()
    api_concurrency = sum(r * lambda_seconds(ops[n], measured) for n, r in rate.items())
    seconds = event_seconds(measured)
    event_concurrency = writes * (seconds["publish_changes"] + seconds["record_notification"])
    shards = max(STREAM_SHARDS_MIN, math.ceil(table_wru / LIMIT["partition_wcu"]))
    lanes = shards * design.stream_parallelization
    result = [
        Load("API Gateway requests (account, per region)", total, LIMIT["apigw_rps"], "req/s"),
        Load(
            "by-owner index: busiest owner's partition key, writes",
            index_wcu,
            LIMIT["partition_wcu"],
            "WCU/s",
        ),
        Load(
            "by-owner index: busiest owner's partition key, reads", index_rcu, LIMIT["partition_rcu"], "RCU/s"
        ),
        Load("table: on-demand write quota", table_wru, LIMIT["table_wru"], "WRU/s"),
        Load("table: on-demand read quota", table_rru, LIMIT["table_rru"], "RRU/s"),
        Load(
            "SNS Publish (us-east-1)", writes / design.publish_batch, LIMIT["sns_publish_tps"], "requests/s"
        ),
        Load(
            f"stream publisher: {shards} shards × {design.stream_parallelization} batch(es) at a time, "
            f"{design.publish_batch} event(s) per {SNS_PUBLISH_S * 1000:.0f} ms Publish",
            writes,
            lanes * design.publish_batch / SNS_PUBLISH_S,
            "events/s",
        ),
    ]
    if w.hot_person_writes:
        result.append(
            Load("table: busiest person's partition key, writes", person_wcu, LIMIT["partition_wcu"], "WCU/s")
        )
    reserved = design.api_reserved or measured.reserved_api
    if reserved is not None:
        result.append(
            Load("Lambda: API function's reserved concurrency (prod)", api_concurrency, reserved, "")
        )
    hook_concurrency = 0.0
    if w.webhook_endpoints_per_event:
        messages = writes * w.webhook_endpoints_per_event
        attempt_s = WEBHOOK_TIMEOUT_S if w.webhook_fails_slowly else WEBHOOK_FAST_FAIL_S
        if w.webhook_down_seconds:
            # At the end of the outage every stage of the schedule is being retried at once.
            attempts = messages * retry_stages_live(w.webhook_down_seconds)
            if design.endpoint_breaker:
                attempts = min(attempts, 1 / 60)
            hook_concurrency = attempts * attempt_s
            if design.webhook_backoff == "visibility":
                waiting = messages * webhook_waiting(w.webhook_down_seconds)
                result.append(
                    Load(
                        "SQS in-flight messages (back-off by visibility timeout)",
                        waiting,
                        LIMIT["sqs_in_flight"],
                        "",
                    )
                )
        else:
            hook_concurrency = messages * 0.2
        if design.delivery_reserved is not None:
            result.append(
                Load(
                    "Lambda: delivery function's reserved concurrency (beyond it deliveries queue, late)",
                    hook_concurrency,
                    design.delivery_reserved,
                    "",
                )
            )
            hook_concurrency = min(hook_concurrency, design.delivery_reserved)
    result.append(
        Load(
            "Lambda: account concurrency (all functions)",
            api_concurrency + event_concurrency + hook_concurrency,
            LIMIT["lambda_account_concurrency"],
            "",
        )
    )
    return result


def retry_stages_live(down_s: float, delays: Sequence[float] = WEBHOOK_RETRY_DELAYS_S) -> int:
    """Attempts per event/s being made at the end of an outage: the first try plus every
    retry stage whose cumulative delay falls inside the outage."""
    total, stages = 0.0, 1
    for delay in delays:
        total += delay
        stages += total < down_s
    return stages


@dataclass(frozen=True)
class Verdict:
    workload: Workload
    design: Design
    loads: list[Load]

    @property
    def first(self) -> Load:
        return max(self.loads, key=lambda load: load.utilisation)

    def total_rate(self) -> float:
        return sum(self.workload.rates.values())

    def rate_at_limit(self) -> float:
        """The total request rate (same mix) at which the first limit is reached."""
        return self.total_rate() / self.first.utilisation


def analyse(w: Workload, measured: Measured, design: Design = TODAY) -> Verdict:
    return Verdict(w, design, loads(w, measured, design))


MIX = {"get": 0.70, "list": 0.15, "create": 0.05, "update": 0.08, "delete": 0.02}


def _mix(total: float) -> dict[str, float]:
    return {op: total * share for op, share in MIX.items()}


def admin_pages_per_second(clients: int, client_round_trip_s: float = 0.05) -> float:
    """Pages per second of `clients` paging one after another (each waits for its page)."""
    return clients / (lambda_seconds(operations()["list"], load_measured()) + client_round_trip_s)


def workloads() -> list[Workload]:
    fan_out = Design(stream_parallelization=10, publish_batch=10)
    one_page = lambda_seconds(operations()["list"], load_measured()) + 0.05
    return [
        Workload(
            "A million owners, 100 people each (uniform), 2,000 req/s mixed",
            _mix(2000),
            note="70 % GET one, 15 % list, 5 % POST, 8 % PUT/PATCH, 2 % DELETE",
            answer=fan_out,
        ),
        Workload(
            "The same, people per owner Zipf (s = 1)",
            _mix(2000),
            distribution="zipf",
            note=f"the busiest of a million owners holds 1/H(10^6) = {hottest_share(10**6, 'zipf'):.1%} "
            "of everyone",
            answer=fan_out,
        ),
        Workload(
            "One owner with a million people, writing at 2,000/s",
            {"create": 2000.0},
            hot_owner_share=1.0,
            note="an import: every write lands on that owner's one by-owner partition key",
            answer=Design(index_shards=4, stream_parallelization=10, publish_batch=10),
        ),
        Workload(
            "An admin listing everything: one owner's million people, 20 clients paging at once",
            {"list": admin_pages_per_second(20)},
            hot_owner_share=1.0,
            note=f"a page every {one_page * 1000:.0f} ms per client (50 ms client round trip): one client "
            f"needs {10**6 / PAGE * one_page / 60:.0f} min for the million",
            answer=TODAY,
        ),
        Workload(
            "One person updated at 400/s (a counter-like hot item)",
            {"update": 400.0},
            hot_owner_share=1.0,
            hot_person_writes=1.0,
            note="its writes and its history entries share the person's partition key",
            answer=Design(stream_parallelization=10, publish_batch=10, owner_write_limit=100),
        ),
        Workload(
            "A webhook endpoint down for a day (times out), its owner writing 2/s",
            {"create": 2.0},
            hot_owner_share=1.0,
            webhook_endpoints_per_event=1,
            webhook_down_seconds=86400,
            note="issue 14's schedule: 8 attempts over 27.6 h, 10 s timeout; one SQS message per "
            "endpoint per event",
            answer=Design(webhook_backoff="delay", delivery_reserved=100, endpoint_breaker=True),
        ),
    ]


# --- rendering --------------------------------------------------------------------------------


def _money(x: float) -> str:
    return f"${x:,.2f}" if x >= 0.1 else f"${x:,.4f}"


def _num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:,.1f}" if x >= 1 else f"{x:.3g}"


def _counted(measured: Measured) -> str:
    ops = operations().values()
    if not measured.counted_requests:
        return "not in this results.json: 1 assumed"
    return ", ".join(f"{op.name} {measured.counted_requests.get(op.counted, 1.0):g}" for op in ops)


def cost_table(measured: Measured) -> str:
    ops = operations()
    lines = [
        f"Prices: {PRICES_AS_OF}. API function: {measured.memory_mb['api_handler']} MB "
        f"(`.chalice/config.json`); durations: {measured.source}, scaled to the function's share of "
        f"a vCPU ({measured.memory_mb['api_handler']}/{LAMBDA_FULL_VCPU_MB}) plus "
        f"{DDB_LATENCY_S['single'] * 1000:.0f} ms per DynamoDB request "
        f"({DDB_LATENCY_S['query'] * 1000:.0f} ms per Query page). Capacity from the item sizes "
        f"(person {item_size(person_item())} B, history entry {item_size(history_item())} B, "
        f"idempotency record {item_size(idempotency_item())} B) by DynamoDB's sizing rules (the "
        "emulator's own capacity figures are approximations), times the DynamoDB requests per "
        f"operation `make bench` counted ({_counted(measured)}). PUT, PATCH and DELETE take POST's "
        "measured time. "
        "Each write also causes one change event: an SNS publish, "
        "the stream and history functions (one invocation each, the worst case) and a history write.",
        "",
        "| Per million requests | Lambda duration | API Gateway | Lambda | DynamoDB | Change events "
        "| Logs | Total |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for op in ops.values():
        c = cost_per_million(op, measured)
        events = sum(v for k, v in c.items() if k.startswith("Change event"))
        total = sum(c.values())
        lines.append(
            f"| {op.name} | {lambda_seconds(op, measured) * 1000:.1f} ms | {_money(c['API Gateway'])} | "
            f"{_money(c['Lambda (API)'])} | {_money(c['DynamoDB reads'] + c['DynamoDB writes'])} | "
            f"{_money(events) if events else '—'} | {_money(c['CloudWatch Logs'])} | **{_money(total)}** |"
        )
    hook = webhook_cost_per_million_deliveries(measured)
    lines += [
        "",
        f"Webhook deliveries (one SQS message per endpoint per event, 0.2 s each): "
        f"{_money(sum(hook.values()))} per million ("
        + ", ".join(f"{k} {_money(v)}" for k, v in hook.items())
        + "); each failed attempt costs the same again. Holding a day-long outage's retries by "
        f"15-minute DelaySeconds hops costs {_money(outage_hold_cost(1.0, 86400))} a day in SQS requests "
        "per event/s the endpoint receives. DynamoDB stream reads by Lambda and SNS "
        "deliveries to Lambda are free.",
        "",
        "An idle stage, per month: "
        + "; ".join(f"{k} {_money(v)}" for k, v in idle_month().items())
        + " — for a 1 MB table, so close to nothing; storage is $0.45 per GB-month with backups. "
        "Cognito bills per monthly active user above its free tier.",
    ]
    return "\n".join(lines)


def _first(v: Verdict) -> str:
    first = v.first
    unit = f" {first.unit}" if first.unit else ""
    shown = f"{first.resource}: {_num(first.load)}{unit} of {_num(first.limit)} ({first.utilisation:.0%})"
    if v.design.owner_write_limit is not None:
        # A throttle is not linear: the owner's writes stop growing at the allowance.
        return (
            f"{shown} at the offered rate; the owner's writes beyond {v.design.owner_write_limit:g}/s get 429"
        )
    return f"{shown}; reached at **{_num(v.rate_at_limit())} req/s**"


def scale_table(measured: Measured) -> str:
    lines = [
        f"Durations: {measured.source}. Limits are AWS's documented defaults (per-partition 3,000 RCU "
        "and 1,000 WCU; on-demand 40,000 units per table; 1,000 concurrent Lambdas per account; "
        "10,000 req/s per API Gateway account; 30,000 SNS publishes/s; 120,000 in-flight SQS messages). "
        'Every load is linear in the request rate, so "reached at" is the total rate, same mix, at '
        "which the first limit is met.",
        "",
        "| Workload | First limit, as deployed | The answer | First limit with the answer |",
        "|---|---|---|---|",
    ]
    for w in workloads():
        today = analyse(w, measured)
        answer = w.answer if w.answer is not None and w.answer != TODAY else None
        answered = analyse(w, measured, answer) if answer is not None else None
        name = w.name + (f" ({w.note})" if w.note else "")
        lines.append(
            f"| {name} | {_first(today)} | {answer.describe() if answer else 'none needed'} | "
            f"{_first(answered) if answered else '—'} |"
        )
    return "\n".join(lines)


def report(measured: Measured) -> str:
    out = ["# Scale model (bench/scale.py)", "", scale_table(measured), ""]
    for work, design in [(w, d) for w in workloads() for d in dict.fromkeys([TODAY, w.answer or TODAY])]:
        out += [
            f"## {work.name}: {design.describe()}",
            "",
            "| Limit | Load | Limit | Load / limit |",
            "|---|---|---|---|",
        ]
        for load in sorted(analyse(work, measured, design).loads, key=lambda x: -x.utilisation):
            unit = f" {load.unit}" if load.unit else ""
            out.append(
                f"| {load.resource} | {_num(load.load)}{unit} | {_num(load.limit)} | {load.utilisation:.1%} |"
            )
        out.append("")
    out += ["# Cost per request", "", cost_table(measured), ""]
    return "\n".join(out)


def replace_block(text: str, name: str, body: str) -> str:
    """Replace what lies between `<!-- scale:NAME -->` and `<!-- /scale:NAME -->`."""
    start, end = f"<!-- scale:{name} -->", f"<!-- /scale:{name} -->"
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise ValueError(f"README has no {start} ... {end} block")
    return f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def update_readme(measured: Measured, readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text()
    text = replace_block(text, "cost", cost_table(measured))
    text = replace_block(text, "limits", scale_table(measured))
    readme.write_text(text)


def write_all(readme: bool) -> str:
    """Write bench/SCALE.md (and the README's tables) from bench/results.json; the report."""
    measured = load_measured()
    text = report(measured)
    (HERE / "SCALE.md").write_text(text)
    if readme:
        update_readme(measured)
    return text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="also rewrite the README's generated tables")
    args = parser.parse_args(argv)
    print(write_all(args.readme))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
