"""Local users and their ID tokens, through the emulated Cognito user pool's own API."""

from __future__ import annotations

import contextlib

from devstack.provision import StackInfo, client

# Local-only password for every local user; meets the pool's policy.
LOCAL_PASSWORD = "Local-Passw0rd-only"
EMAIL_DOMAIN = "example.com"


def email_for(user: str) -> str:
    """The pool signs users in by email: a bare name maps to <name>@example.com."""
    return user if "@" in user else f"{user}@{EMAIL_DOMAIN}"


def ensure_user(info: StackInfo, user: str, group: str | None = None) -> str:
    """Create the user on first use (and add to `group`); return its sign-in email."""
    cognito = client("cognito-idp", info.endpoint)
    email = email_for(user)
    try:
        cognito.admin_create_user(
            UserPoolId=info.user_pool_id,
            Username=email,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        )
        cognito.admin_set_user_password(
            UserPoolId=info.user_pool_id, Username=email, Password=LOCAL_PASSWORD, Permanent=True
        )
    except cognito.exceptions.UsernameExistsException:
        pass
    if group:
        # The admins group exists from provisioning; any other is made on first use.
        with contextlib.suppress(cognito.exceptions.GroupExistsException):
            cognito.create_group(UserPoolId=info.user_pool_id, GroupName=group)
        cognito.admin_add_user_to_group(UserPoolId=info.user_pool_id, Username=email, GroupName=group)
    return email


def id_token(info: StackInfo, user: str, group: str | None = None) -> str:
    """A fresh ID token for `user`, signed by the emulated pool (USER_PASSWORD_AUTH)."""
    email = ensure_user(info, user, group)
    result = client("cognito-idp", info.endpoint).initiate_auth(
        ClientId=info.app_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": LOCAL_PASSWORD},
    )
    return str(result["AuthenticationResult"]["IdToken"])
