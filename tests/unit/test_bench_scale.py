"""The scale model's arithmetic (bench/scale.py), on small cases worked out by hand."""

from __future__ import annotations

import pytest

from bench import scale
from bench.scale import Design, Measured, Workload


def measured(compute: float = 0.001, memory: int = 1024, reserved: int | None = None) -> Measured:
    functions = ("api_handler", "publish_changes", "record_notification", "webhook_delivery")
    return Measured(
        {"get": compute, "create": compute, "list": compute},
        "test",
        dict.fromkeys(functions, memory),
        reserved,
    )


def by_resource(
    workload: Workload, design: Design = scale.TODAY, reserved: int | None = None
) -> dict[str, scale.Load]:
    return {load.resource: load for load in scale.loads(workload, measured(reserved=reserved), design)}


def test_item_size_counts_attribute_names_and_values() -> None:
    assert scale.item_size({"ab": {"S": "xyz"}}) == 5
    assert scale.item_size({"n": {"N": "123"}}) == 1 + 3  # ceil(3 digits / 2) + 1
    assert scale.item_size({"l": {"L": [{"S": "a"}, {"S": "b"}]}}) == 1 + 3 + 2 + 2
    assert scale.item_size({"é": {"S": "é"}}) == 4  # UTF-8 bytes, not characters


def test_capacity_units_round_up_per_kilobyte_and_per_4_kilobytes() -> None:
    assert [scale.write_units(n) for n in (1, 1024, 1025)] == [1, 1, 2]
    assert scale.read_units(4096, consistent=True) == 1.0
    assert scale.read_units(4097, consistent=True) == 2.0
    assert scale.read_units(4097, consistent=False) == 1.0


def test_a_person_is_one_write_unit_and_a_page_of_51_reads_half_units() -> None:
    size = scale.item_size(scale.person_item())
    assert size < 1024
    ops = scale.operations()
    assert ops["create"].table_wru == 1 and ops["create"].index_wru == 1
    assert ops["list"].index_rru == scale.read_units(51 * size, consistent=False)


def test_zipf_gives_the_first_owner_one_over_the_harmonic_number() -> None:
    assert scale.hottest_share(2, "zipf") == pytest.approx(2 / 3)
    assert scale.hottest_share(4, "uniform") == 0.25
    exact = 1 / sum(1 / k for k in range(1, 200_001))
    assert scale.hottest_share(200_000, "zipf") == pytest.approx(exact, rel=1e-9)


def test_webhook_outage_counts_attempts_inside_the_outage() -> None:
    # Tries at 0, 10 and 30 s after an event; a 25 s outage: 25 + 15 + 0 event-seconds of attempts.
    assert scale.webhook_attempts_in_outage(25, (10, 20)) == 40
    assert scale.retry_stages_live(25, (10, 20)) == 2
    assert scale.retry_stages_live(100, (10, 20)) == 3
    assert scale.webhook_waiting(100, (10, 20)) == 30


def test_one_owners_writes_all_land_on_one_index_key_until_sharded() -> None:
    hot = Workload("hot", {"create": 1500.0}, hot_owner_share=1.0)
    key = "by-owner index: busiest owner's partition key, writes"
    assert by_resource(hot)[key].load == 1500
    assert by_resource(hot)[key].utilisation == 1.5
    assert by_resource(hot, Design(index_shards=4))[key].load == 375


def test_uniform_owners_spread_the_index_load() -> None:
    spread = Workload("spread", {"create": 1500.0}, owners=1000, distribution="uniform")
    assert by_resource(spread)["by-owner index: busiest owner's partition key, writes"].load == 1.5


def test_lambda_time_scales_compute_by_the_vcpu_share_and_adds_io() -> None:
    op = scale.operations()["get"]
    full = measured(compute=0.001, memory=scale.LAMBDA_FULL_VCPU_MB)
    assert scale.lambda_seconds(op, full) == pytest.approx(0.001 + scale.DDB_LATENCY_S["single"])
    half = measured(compute=0.001, memory=scale.LAMBDA_FULL_VCPU_MB // 2)
    assert scale.lambda_seconds(op, half) == pytest.approx(0.001 * 2 + 0.005, rel=1e-3)


def test_cost_of_a_million_gets_by_hand() -> None:
    # 1 ms compute at 1024 MB -> 1.728 ms + 5 ms I/O = 6.728 ms, billed 7 ms at 1 GB.
    lines = scale.cost_per_million(scale.operations()["get"], measured())
    assert lines["API Gateway"] == 3.50
    assert lines["Lambda (API)"] == pytest.approx(0.20 + 1e6 * 0.007 * 0.0000166667)
    assert lines["DynamoDB reads"] == pytest.approx(0.125)  # 1 strongly consistent unit each
    assert "Change event: SNS publish" not in lines


def test_writes_pay_for_the_index_and_the_change_event() -> None:
    lines = scale.cost_per_million(scale.operations()["create"], measured())
    assert lines["DynamoDB writes"] == pytest.approx(2 * 0.625)  # the table and the by-owner index
    assert lines["Change event: SNS publish"] == 0.50
    assert lines["Change event: history write"] == pytest.approx(scale.history_wru() * 0.625)


def test_the_first_limit_is_reached_at_the_rate_that_fills_it() -> None:
    half = Workload("half", {"create": 500.0}, hot_owner_share=1.0)
    verdict = scale.analyse(half, measured(), Design(stream_parallelization=10, publish_batch=10))
    assert verdict.first.resource == "by-owner index: busiest owner's partition key, writes"
    assert verdict.rate_at_limit() == pytest.approx(1000)


def test_concurrency_is_rate_times_duration() -> None:
    reads = Workload("reads", {"get": 1000.0})
    loads = by_resource(reads, reserved=10)
    duration = scale.lambda_seconds(scale.operations()["get"], measured())
    assert loads["Lambda: API function's reserved concurrency (prod)"].load == pytest.approx(1000 * duration)


def test_readme_blocks_are_replaced_between_their_markers() -> None:
    text = "a\n<!-- scale:cost -->\nold\n<!-- /scale:cost -->\nb"
    assert scale.replace_block(text, "cost", "new") == "a\n<!-- scale:cost -->\nnew\n<!-- /scale:cost -->\nb"
    with pytest.raises(ValueError):
        scale.replace_block("no markers", "cost", "new")


def test_delay_hops_split_long_waits_into_15_minute_sends() -> None:
    # Waits of 10 min (1 hop) then 40 min (3 hops); a one-hour outage:
    # 3600 event-seconds start the first wait, 3000 the second.
    assert scale.delay_hops(3600, (600, 2400)) == 1 * 3600 + 3 * 3000
    assert scale.outage_hold_cost(1.0, 3600) == pytest.approx(
        scale.delay_hops(3600) * 3 / 1e6 * scale.PRICE["sqs_per_million"]
    )


def test_dynamodb_cost_follows_the_requests_the_bench_counted() -> None:
    twice = Measured(
        {"get": 0.001, "create": 0.001, "list": 0.001}, "test", measured().memory_mb, None, {"ddb.get": 2.0}
    )
    lines = scale.cost_per_million(scale.operations()["get"], twice)
    assert lines["DynamoDB reads"] == pytest.approx(2 * 0.125)
