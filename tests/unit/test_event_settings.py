"""Per-stage settings of the notification pipeline."""

from __future__ import annotations

import pytest

from chalicelib.config import (
    PLACEHOLDER_STREAM_ARN,
    PLACEHOLDER_TOPIC_ARN,
    ConfigError,
    load_settings,
)

BASE = {"TABLE_NAME": "t", "CURSOR_SECRET": "s", "STAGE": "dev"}


def test_history_is_kept_ninety_days_unless_the_stage_says_otherwise() -> None:
    assert load_settings(BASE).history_ttl_days == 90
    assert load_settings({**BASE, "HISTORY_TTL_DAYS": "7"}).history_ttl_days == 7


@pytest.mark.parametrize("days", ["0", "-3", "1.5", "soon"])
def test_a_nonsensical_history_ttl_fails_fast(days: str) -> None:
    with pytest.raises(ConfigError, match="HISTORY_TTL_DAYS"):
        load_settings({**BASE, "HISTORY_TTL_DAYS": days})


def test_event_sources_fall_back_to_placeholders_so_the_app_imports_anywhere() -> None:
    settings = load_settings(BASE)
    assert settings.events.stream_arn == PLACEHOLDER_STREAM_ARN
    assert settings.events.topic_arn == PLACEHOLDER_TOPIC_ARN
    assert settings.event_source == "people-api/dev"
    named = load_settings({**BASE, "CHANGES_TOPIC_ARN": "arn:aws:sns:eu-west-1:1:t"})
    assert named.events.topic_arn == "arn:aws:sns:eu-west-1:1:t"
