"""Webhook settings: loopback receivers only on the local stage, and clear errors for what is missing."""

from __future__ import annotations

import pytest

from chalicelib.config import ConfigError, load_settings

BASE = {"TABLE_NAME": "t", "STAGE": "dev"}


def test_loopback_receivers_are_refused_at_start_up_outside_the_local_stage() -> None:
    with pytest.raises(ConfigError, match="WEBHOOKS_ALLOW_LOOPBACK"):
        load_settings({**BASE, "WEBHOOKS_ALLOW_LOOPBACK": "true"})


def test_the_local_stage_may_allow_loopback_receivers() -> None:
    env = {
        **BASE,
        "STAGE": "local",
        "AUTH_MODE": "local-jwt",
        "COGNITO_USER_POOL_ID": "p",
        "COGNITO_APP_CLIENT_ID": "c",
        "WEBHOOKS_ALLOW_LOOPBACK": "true",
    }
    assert load_settings(env).webhooks.allow_loopback is True
    assert load_settings({**env, "WEBHOOKS_ALLOW_LOOPBACK": "false"}).webhooks.allow_loopback is False


def test_loopback_is_off_by_default_and_a_typo_fails() -> None:
    assert load_settings(BASE).webhooks.allow_loopback is False
    with pytest.raises(ConfigError, match="true or false"):
        load_settings({**BASE, "WEBHOOKS_ALLOW_LOOPBACK": "yes please"})


def test_a_missing_queue_or_key_is_named_when_webhooks_need_it() -> None:
    webhooks = load_settings({**BASE, "WEBHOOK_SECRETS_KEY": "set-by-make-deploy"}).webhooks
    with pytest.raises(ConfigError, match="WEBHOOK_SECRETS_KEY"):
        webhooks.secrets_key()
    with pytest.raises(ConfigError, match="WEBHOOK_DELIVERY_QUEUE_URL"):
        webhooks.delivery_queue()
    with pytest.raises(ConfigError, match="WEBHOOK_FAILURE_QUEUE_URL"):
        webhooks.failure_queue()


def test_the_lambda_runtime_api_is_passed_to_the_outbound_policy() -> None:
    env = {**BASE, "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}
    assert load_settings(env).webhooks.lambda_runtime_api == "127.0.0.1:9001"
