"""Lambda events as API Gateway delivers them, and canned DynamoDB answers.

Stdlib only at import: the cold-start child loads this before its clock starts, so it must
not pull in botocore (that cost belongs to whatever is being measured).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

TABLE = "people-api-dev"
REGION = "us-east-1"
OWNER = "6f1c2a9e-4b7d-4c1e-9a55-2f0d8e3b7a10"
PERSON_ID = "01JD8Z6Q3Y5V7W9X1A2B3C4D5E"
CLAIMS = {
    "sub": OWNER,
    "email": "alice@example.com",
    "email_verified": "true",
    "cognito:username": OWNER,
    "token_use": "id",
    "aud": "1example23456789clientid",
    "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_placeholder",
    "auth_time": "1767225600",
    "iat": "1767225600",
    "exp": "Thu Jan 01 01:00:00 UTC 2026",
}
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:000000000000:table/{TABLE}/stream/2026-01-01T00:00:00.000"
TOPIC_ARN = f"arn:aws:sns:{REGION}:000000000000:people-api-dev-changes"
DELIVERY_QUEUE = "people-api-dev-webhook-deliveries"
DELIVERY_QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/000000000000/{DELIVERY_QUEUE}"
FAILURE_QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/000000000000/people-api-dev-webhook-failures"
SECRETS_KEY = f"arn:aws:kms:{REGION}:000000000000:key/00000000-0000-0000-0000-000000000000"
PERSON_BODY = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0000",
    "notes": "First programmer.",
    "tags": ["math", "engines"],
}


def lambda_environment() -> dict[str, str]:
    """What the deployed function sees (stage `dev` of .chalice/config.json, fake credentials)."""
    return {
        "STAGE": "dev",
        "AUTH_MODE": "cognito",
        "TABLE_NAME": TABLE,
        "CURSOR_SECRET": "bench-cursor-secret",
        "COGNITO_USER_POOL_ARN": f"arn:aws:cognito-idp:{REGION}:000000000000:userpool/{REGION}_placeholder",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": "people-api-dev",
        "TABLE_STREAM_ARN": STREAM_ARN,
        "CHANGES_TOPIC_ARN": TOPIC_ARN,
        "HISTORY_TTL_DAYS": "90",
        # The webhook queues and key, as stage `dev` of .chalice/config.json names them.
        "WEBHOOK_DELIVERY_QUEUE": DELIVERY_QUEUE,
        "WEBHOOK_DELIVERY_QUEUE_URL": DELIVERY_QUEUE_URL,
        "WEBHOOK_FAILURE_QUEUE_URL": FAILURE_QUEUE_URL,
        "WEBHOOK_SECRETS_KEY": SECRETS_KEY,
    }


class LambdaContext:
    """The attributes of the Lambda context object the app may read."""

    function_name = "people-api-dev"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:000000000000:function:people-api-dev"
    log_group_name = "/aws/lambda/people-api-dev"
    log_stream_name = "bench"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def rest_event(
    method: str,
    resource: str,
    path: str,
    *,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event after the Cognito user-pool authorizer."""
    headers = {
        "Accept": "application/json",
        "Authorization": "eyJraWQiOiJiZW5jaCJ9.e30.c2ln",
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "bench/1.0",
        "X-Forwarded-For": "192.0.2.1",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    raw_body = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        raw_body = json.dumps(body)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": "bench",
            "requestTime": "01/Jan/2026:00:00:00 +0000",
            "path": f"/api{path}",
            "accountId": "000000000000",
            "protocol": "HTTP/1.1",
            "stage": "api",
            "domainPrefix": "abc123",
            "requestTimeEpoch": 1767225600000,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "192.0.2.1", "userAgent": "bench/1.0"},
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123",
            "authorizer": {"claims": dict(claims or CLAIMS)},
        },
        "body": raw_body,
        "isBase64Encoded": False,
    }


def get_person_event() -> dict[str, Any]:
    return rest_event(
        "GET", "/people/{person_id}", f"/people/{PERSON_ID}", path_params={"person_id": PERSON_ID}
    )


def list_people_event() -> dict[str, Any]:
    return rest_event("GET", "/people", "/people", query={"limit": "50"})


def create_person_event() -> dict[str, Any]:
    return rest_event("POST", "/people", "/people", body=PERSON_BODY)


# --- canned DynamoDB answers -------------------------------------------------------------


def _item(person_id: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"PERSON#{person_id}"},
        "sk": {"S": "PERSON"},
        "id": {"S": person_id},
        "owner": {"S": OWNER},
        "list_owner": {"S": OWNER},
        "name": {"S": PERSON_BODY["name"]},
        "email": {"S": PERSON_BODY["email"]},
        "phone": {"S": PERSON_BODY["phone"]},
        "notes": {"S": PERSON_BODY["notes"]},
        "tags": {"L": [{"S": tag} for tag in PERSON_BODY["tags"]]},
        "created_at": {"S": "2026-01-01T00:00:00.000Z"},
        "updated_at": {"S": "2026-01-02T00:00:00.000Z"},
        "version": {"N": "3"},
        "actor": {"S": OWNER},
    }


def _page_ids(count: int) -> list[str]:
    # Distinct, sorted, valid ULIDs sharing PERSON_ID's time part.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return [PERSON_ID[:24] + alphabet[i // 32] + alphabet[i % 32] for i in range(count)]


def _capacity(units: float) -> dict[str, Any]:
    return {"TableName": TABLE, "CapacityUnits": units}


PAGE_SIZE = 50
BODIES: dict[str, bytes] = {
    "GetItem": json.dumps({"Item": _item(PERSON_ID), "ConsumedCapacity": _capacity(1.0)}).encode(),
    "PutItem": json.dumps({"ConsumedCapacity": _capacity(1.0)}).encode(),
    "UpdateItem": json.dumps({"Attributes": _item(PERSON_ID), "ConsumedCapacity": _capacity(1.0)}).encode(),
    "Query": json.dumps(
        {
            "Items": [_item(i) for i in _page_ids(PAGE_SIZE)],
            "Count": PAGE_SIZE,
            "ScannedCount": PAGE_SIZE,
            "ConsumedCapacity": _capacity(8.5),
        }
    ).encode(),
}
SENT: dict[str, int] = {}


class _Raw:
    """The `raw` object botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _operation(request: Any) -> str:
    """The operation a JSON-protocol request names in X-Amz-Target (`DynamoDB_20120810.GetItem`)."""
    target = request.headers.get("X-Amz-Target", b"")
    return (target.decode() if isinstance(target, bytes) else str(target)).rsplit(".", 1)[-1]


def _json_response(request: Any, operation: str, body: bytes, content_type: str) -> Any:
    from botocore.awsrequest import AWSResponse, HeadersDict

    SENT[operation] = SENT.get(operation, 0) + 1
    headers = HeadersDict({"Content-Type": content_type, "x-amzn-RequestId": "bench"})  # type: ignore[no-untyped-call]
    return AWSResponse(request.url, 200, headers, _Raw(body))  # type: ignore[no-untyped-call]


def _request_body(request: Any) -> bytes:
    body = request.body
    return body if isinstance(body, bytes) else str(body or "").encode()


def answer(request: Any, **_: Any) -> Any:
    """botocore `before-send` handler: answer DynamoDB from BODIES without any network I/O.

    The webhook handlers' requests are told apart by their keys (`webhook_body`); every other
    request of an operation gets that operation's one answer in BODIES.
    """
    operation = _operation(request)
    body = webhook_body(operation, _request_body(request)) or BODIES[operation]
    return _json_response(request, operation, body, "application/x-amz-json-1.0")


def install() -> None:
    """Answer every DynamoDB, SQS and KMS request of every botocore client in this process.

    Patched at botocore's HTTP layer, below the clients, so whichever clients the code under
    test creates (and when) is part of what is measured, and none of them reaches the network.
    DynamoDB is answered by `answer`, SQS by `answer_sqs`, KMS by `answer_kms` (all three speak
    botocore's JSON protocol, so X-Amz-Target names the service and the operation).
    """
    from botocore.endpoint import Endpoint

    original: Any = Endpoint._send

    def send(endpoint: Any, request: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        if target.startswith("DynamoDB_"):
            return answer(request)
        if target.startswith("AmazonSQS."):
            return answer_sqs(request)
        if target.startswith("TrentService."):
            return answer_kms(request)
        return original(endpoint, request)

    Endpoint._send = send  # type: ignore[method-assign]


# --- the event handlers: a stream batch, an SNS delivery, and canned SNS answers -----------

_STREAM_ID = "4b7e1c2a9f0d3e5b6a7c8d9e0f1a2b3c"


def stream_event() -> dict[str, Any]:
    """A DynamoDB stream batch of one INSERT of a person, as Lambda delivers it."""
    item = {k: v for k, v in _item(PERSON_ID).items() if k != "version"} | {"version": {"N": "1"}}
    record = {
        "eventID": _STREAM_ID,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": 1767225600,
            "Keys": {"pk": item["pk"], "sk": item["sk"]},
            "NewImage": item,
            "SequenceNumber": "100000000000000000001",
            "SizeBytes": 512,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": STREAM_ARN,
    }
    return {"Records": [record]}


def change_message() -> str:
    """The change event `publish_changes` sends for `stream_event()` (CloudEvents JSON)."""
    person = {
        "id": PERSON_ID,
        "owner": OWNER,
        **PERSON_BODY,
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-02T00:00:00.000Z",
        "version": 1,
    }
    return json.dumps(
        {
            "specversion": "1.0",
            "id": _STREAM_ID,
            "source": "people-api/dev",
            "type": "people.person.created",
            "time": "2026-01-02T00:00:00.000Z",
            "subject": PERSON_ID,
            "datacontenttype": "application/json",
            "data": {
                "owner": OWNER,
                "actor": OWNER,
                "version": 1,
                "before": None,
                "after": person,
                "changed_fields": ["name", "email", "phone", "notes", "tags"],
            },
        }
    )


def sns_event() -> dict[str, Any]:
    """An SNS delivery of one change event, as Lambda delivers it."""
    sns = {
        "Type": "Notification",
        "MessageId": str(uuid.UUID(int=1)),
        "TopicArn": TOPIC_ARN,
        "Subject": None,
        "Message": change_message(),
        "Timestamp": "2026-01-02T00:00:01.000Z",
        "SignatureVersion": "1",
        "Signature": "bench",
        "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/bench.pem",
        "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        "MessageAttributes": {
            "type": {"Type": "String", "Value": "people.person.created"},
            "owner": {"Type": "String", "Value": OWNER},
        },
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC_ARN}:{uuid.UUID(int=2)}",
                "Sns": sns,
            }
        ]
    }


PUBLISH_BODY = (
    b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
    b"<PublishResult><MessageId>00000000-0000-0000-0000-000000000003</MessageId></PublishResult>"
    b"<ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></PublishResponse>"
)


def answer_sns(request: Any, **_: Any) -> Any:
    """botocore `before-send` handler: answer SNS Publish without any network I/O."""
    from botocore.awsrequest import AWSResponse, HeadersDict

    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    if b"Action=Publish" not in body:
        raise RuntimeError(f"no canned SNS answer for {body[:80]!r}")
    SENT["Publish"] = SENT.get("Publish", 0) + 1
    headers = HeadersDict({"Content-Type": "text/xml", "x-amzn-RequestId": "bench"})  # type: ignore[no-untyped-call]
    return AWSResponse(request.url, 200, headers, _Raw(PUBLISH_BODY))  # type: ignore[no-untyped-call]


def install_sns(client: Any) -> None:
    """Answer every SNS Publish of this botocore client with PUBLISH_BODY."""
    client.meta.events.register("before-send.sns", answer_sns)


# --- the webhook handlers: a fan-out to one endpoint, and one delivery attempt -------------
#
# The owner of PERSON_ID has one endpoint (ENDPOINT_ID) that receives every change type; no
# admin has a scope-all endpoint. Items are written as the PynamoDB models write them
# (tests/unit/test_bench_canned.py reads them back through the models and the adapters).

ENDPOINT_ID = "01JD8Z6Q3Y5V7W9X1A2B3C4DWH"
EVENT_TIME = "2026-01-02T00:00:00.000Z"  # the `time` of change_message()
# fanout.delivery_id(_STREAM_ID, ENDPOINT_ID): the webhook-id the fan-out gives the delivery.
DELIVERY_ID = "msg_cvotr2xm7lkcr3fncm5utahpcy"
# A `whsec_` signing secret (32 bytes), and the KMS Decrypt answer's base64 of its plaintext.
SECRET = "whsec_nEzdLBIttmB2jHqtouulwFASPaeC87Ou5Aj+ph0qZ2o="
SECRET_PLAINTEXT_B64 = "d2hzZWNfbkV6ZExCSXR0bUIyakhxdG91dWx3RkFTUGFlQzg3T3U1QWorcGgwcVoybz0="
SEALED_SECRET = (
    "AQICAHhiZW5jaC1jaXBoZXJ0ZXh0LW5vdC1yZWFsbHktZW5jcnlwdGVk"  # any ciphertext: Decrypt is canned
)
# Where the endpoint points: an https URL for the fan-out (which sends nothing there); the
# delivery child starts a loopback receiver and points the endpoint at it (start_receiver).
_endpoint_url = "https://hooks.example.com/people"
_SCOPE_ALL = b"WEBHOOKS#SCOPE#ALL"  # keys.SCOPE_ALL_LISTING


def webhook_item() -> dict[str, Any]:
    """The owner's one endpoint, as WebhookModel stores it (every change type, enabled)."""
    return {
        "pk": {"S": f"OWNER#{OWNER}"},
        "sk": {"S": f"WEBHOOK#{ENDPOINT_ID}"},
        "id": {"S": ENDPOINT_ID},
        "owner": {"S": OWNER},
        "url": {"S": _endpoint_url},
        "scope": {"S": "own"},
        "enabled": {"BOOL": True},
        "secret": {"S": SEALED_SECRET},
        "created_at": {"S": "2026-01-01T00:00:00.000000+0000"},
        "updated_at": {"S": "2026-01-01T00:00:00.000000+0000"},
    }


def delivery_item(state: str = "pending", attempts: int = 0) -> dict[str, Any]:
    """The fan-out's delivery of change_message() to the endpoint, as DeliveryModel stores it."""
    item = {
        "pk": {"S": f"DELIVERIES#{ENDPOINT_ID}"},
        "sk": {"S": f"DELIVERY#{EVENT_TIME}#{DELIVERY_ID}"},
        "id": {"S": DELIVERY_ID},
        "endpoint_id": {"S": ENDPOINT_ID},
        "owner": {"S": OWNER},
        "event_id": {"S": _STREAM_ID},
        "event_type": {"S": "people.person.created"},
        "event_time": {"S": EVENT_TIME},
        "created_at": {"S": "2026-01-02T00:00:01.000000+0000"},
        "state": {"S": state},
        "attempt_count": {"N": str(attempts)},
        "payload": {"S": change_message()},
        "expires_at": {"N": "1769817601"},
    }
    if state == "pending":
        item["next_attempt_at"] = {"S": "2026-01-02T00:00:01.000000+0000"}  # due
    return item


def webhook_body(operation: str, request_body: bytes) -> bytes | None:
    """The answer to one of the webhook handlers' DynamoDB requests, told apart by its keys;
    None for every other request (they keep the answers in BODIES).

    - GetItem/UpdateItem of a delivery (`DELIVERIES#` key): the pending delivery, or after the
      attempt the delivered one; GetItem of an endpoint (`OWNER#` key): the endpoint.
    - Query of the scope-all listing: no endpoints; Query of an owner's partition: the endpoint.
    """
    if b"DELIVERIES#" in request_body:
        if operation == "GetItem":
            return json.dumps({"Item": delivery_item(), "ConsumedCapacity": _capacity(1.0)}).encode()
        if operation == "UpdateItem":
            after = delivery_item("succeeded", attempts=1)
            return json.dumps({"Attributes": after, "ConsumedCapacity": _capacity(1.0)}).encode()
        return None
    if operation == "Query" and _SCOPE_ALL in request_body:
        return json.dumps(
            {"Items": [], "Count": 0, "ScannedCount": 0, "ConsumedCapacity": _capacity(0.5)}
        ).encode()
    if b"OWNER#" in request_body:
        if operation == "GetItem":
            return json.dumps({"Item": webhook_item(), "ConsumedCapacity": _capacity(1.0)}).encode()
        if operation == "Query":
            page = {
                "Items": [webhook_item()],
                "Count": 1,
                "ScannedCount": 1,
                "ConsumedCapacity": _capacity(0.5),
            }
            return json.dumps(page).encode()
    return None


def answer_sqs(request: Any, **_: Any) -> Any:
    """Answer SQS SendMessage (botocore's SQS client speaks the JSON protocol)."""
    operation = _operation(request)
    if operation != "SendMessage":
        raise RuntimeError(f"no canned SQS answer for {operation}")
    body = (
        b'{"MD5OfMessageBody":"00000000000000000000000000000000",'
        b'"MessageId":"00000000-0000-0000-0000-000000000004"}'
    )
    return _json_response(request, operation, body, "application/x-amz-json-1.0")


def answer_kms(request: Any, **_: Any) -> Any:
    """Answer KMS Decrypt with SECRET, whatever the ciphertext."""
    operation = _operation(request)
    if operation != "Decrypt":
        raise RuntimeError(f"no canned KMS answer for {operation}")
    body = json.dumps(
        {"KeyId": SECRETS_KEY, "Plaintext": SECRET_PLAINTEXT_B64, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    ).encode()
    return _json_response(request, operation, body, "application/x-amz-json-1.1")


def delivery_message() -> str:
    """The queue message the fan-out sends for the delivery: attempt 1 (pipeline.Message)."""
    return json.dumps(
        {"endpoint_id": ENDPOINT_ID, "owner": OWNER, "key": f"{EVENT_TIME}#{DELIVERY_ID}", "attempt": 1},
        separators=(",", ":"),
    )


def sqs_event() -> dict[str, Any]:
    """An SQS batch of one delivery message, as Lambda delivers it."""
    record = {
        "messageId": str(uuid.UUID(int=5)),
        "receiptHandle": "bench-receipt-handle",
        "body": delivery_message(),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1767312001000",
            "SenderId": "AROAEXAMPLE:people-api-dev",
            "ApproximateFirstReceiveTimestamp": "1767312001010",
        },
        "messageAttributes": {},
        "md5OfBody": "00000000000000000000000000000000",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:000000000000:{DELIVERY_QUEUE}",
        "awsRegion": REGION,
    }
    return {"Records": [record]}


_RESPONSE = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _receive(connection: Any) -> None:
    """Read one POST (head and Content-Length body), count it if signed, answer 204."""
    with connection:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        fields = dict(line.split(b": ", 1) for line in lines[1:] if b": " in line)
        length = int(fields.get(b"content-length", b"0"))
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return
            body += chunk
        if lines[0].startswith(b"post ") and fields.get(b"webhook-signature", b"").startswith(b"v1,"):
            SENT["POST"] = SENT.get("POST", 0) + 1
        connection.sendall(_RESPONSE)


def start_receiver() -> str:
    """Serve a webhook receiver on 127.0.0.1 in a daemon thread; point the endpoint at it.

    Started before the child's clock, like a receiver running elsewhere. It works at the socket
    level (no http.server), so it loads nothing the measured code would otherwise load itself,
    and its own work per POST is a few system calls. Returns the endpoint's URL.
    """
    import socket
    import threading

    global _endpoint_url
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            connection, _ = server.accept()
            _receive(connection)

    threading.Thread(target=serve, name="bench-receiver", daemon=True).start()
    _endpoint_url = f"http://127.0.0.1:{server.getsockname()[1]}/hooks/people"
    return _endpoint_url
