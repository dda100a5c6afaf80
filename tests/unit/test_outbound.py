"""The outbound client: SSRF refusals, DNS rebinding, and real deliveries to receivers on loopback."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib import outbound
from chalicelib.outbound import ErrorKind, Policy
from chalicelib.webhooks import signing
from devstack.background import free_port
from tests.receivers import Received, answer, http_receiver, raw_receiver

DEPLOYED = Policy()
LOCAL = Policy(allow_loopback=True)
BODY = b'{"type":"people.person.created","data":{"id":"01J"}}'


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the client opens any connection."""

    def refuse(address: object, port: int, timeout: float) -> socket.socket:
        raise AssertionError(f"connected to {address}:{port}, which should have been refused")

    monkeypatch.setattr(outbound, "_open_connection", refuse)


def resolving(*answers: Sequence[str]) -> tuple[outbound.Resolver, list[str]]:
    """A resolver giving each answer in turn (the last one from then on), and the names it was asked."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    return resolve, asked


# --- refused before any connection ------------------------------------------------------------

REFUSED_V4 = [
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",  # instance metadata
    "169.254.170.2",  # container credentials
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.1",
    "192.0.2.10",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
]
REFUSED_V6 = [
    "::",
    "::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
    "64:ff9b::7f00:1",  # NAT64 of loopback
    "64:ff9b:1::1",
    "100::1",
    "2001::1",  # Teredo
    "2001:db8::1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of the metadata address
    "2002:808:808::1",  # 6to4 at all
    "3fff::1",
    "5f00::1",
    "fc00::1",
    "fd00:ec2::254",  # the instance metadata service over IPv6
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "4000::1",  # outside global unicast
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", REFUSED_V4 + REFUSED_V6)
def test_internal_addresses_have_a_reason_to_be_refused(address: str) -> None:
    assert outbound.address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert outbound.address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.usefixtures("no_connections")
@pytest.mark.parametrize("address", REFUSED_V4)
def test_a_url_naming_an_internal_ipv4_address_is_refused(address: str) -> None:
    result = outbound.post_json(f"https://{address}/hook", BODY, {}, DEPLOYED)
    assert (result.status, result.error) == (None, ErrorKind.FORBIDDEN_ADDRESS)


@pytest.mark.usefixtures("no_connections")
@pytest.mark.parametrize("address", REFUSED_V6)
def test_a_url_naming_an_internal_ipv6_address_is_refused(address: str) -> None:
    result = outbound.post_json(f"https://[{address}]:8443/hook", BODY, {}, DEPLOYED)
    assert (result.status, result.error) == (None, ErrorKind.FORBIDDEN_ADDRESS)


@pytest.mark.usefixtures("no_connections")
@pytest.mark.parametrize("address", REFUSED_V4 + REFUSED_V6)
def test_a_name_resolving_to_an_internal_address_is_refused(address: str) -> None:
    resolver, asked = resolving([address])
    result = outbound.post_json("https://hooks.example.com/x", BODY, {}, DEPLOYED, resolver=resolver)
    assert (result.error, asked) == (ErrorKind.FORBIDDEN_ADDRESS, ["hooks.example.com"])


@pytest.mark.usefixtures("no_connections")
def test_a_name_with_one_internal_answer_among_public_ones_is_refused() -> None:
    resolver, _ = resolving(["93.184.216.34", "10.0.0.7"])
    result = outbound.post_json("https://hooks.example.com/x", BODY, {}, DEPLOYED, resolver=resolver)
    assert result.error is ErrorKind.FORBIDDEN_ADDRESS
    assert "10.0.0.7" in result.detail


@pytest.mark.usefixtures("no_connections")
@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # decimal 127.0.0.1
        "https://2130706433/",
        "https://0177.0.0.1/",  # octal
        "https://0x7f.0.0.1/",  # hex
        "https://0x7f000001/",
        "https://127.1/",  # short form
        "https://017700000001/",
        "https://169.254.43518/",  # 169.254.169.254 in a mixed form
        "https://127.0.0.1./",  # trailing dot
        "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",  # fullwidth digits
        "https://127\u30020\u30020\u30021/",  # ideographic full stops
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[0:0:0:0:0:ffff:127.0.0.1]/",
        "https://[::1%25lo]/",  # zone id
        "https://[fe80::1%25eth0]/",
        "https://localhost/",
        "https://LOCALHOST./",
        "https://hooks.localhost/",
        "https://user:pass@example.com/",  # userinfo at all
        "https://example.com@127.0.0.1/",
        "https://example.com%40127.0.0.1/",
        "https://example.com\\@127.0.0.1/",
        "https://127.0.0.1\\@example.com/",
        "http://example.com/",  # plain http to anything
        "http://93.184.216.34/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "https:///nohost",
        "https://exa mple.com/",
        "https://example.com\t/",
        "https://example.com:0/",
        "https://example.com:99999/",
        "https://-bad-.example.com/",
        "https://example.com/caf\u00e9",
        "https://example.com/" + "a" * 2000,
        "//example.com/",
        "example.com",
    ],
)
def test_tricky_urls_are_refused_without_connecting(url: str) -> None:
    result = outbound.post_json(url, BODY, {}, DEPLOYED, resolver=resolving(["127.0.0.1"])[0])
    assert result.status is None
    assert result.error in (ErrorKind.INVALID_URL, ErrorKind.FORBIDDEN_ADDRESS)
    assert outbound.validate_url(url, DEPLOYED) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/x?y=1",
        "https://93.184.216.34:8443/",
        "https://[2606:4700::1111]/a",
        "https://b\u00fccher.de/",
    ],
)
def test_public_https_urls_pass_the_static_checks(url: str) -> None:
    assert outbound.validate_url(url, DEPLOYED) is None


@pytest.mark.usefixtures("no_connections")
def test_the_local_flag_allows_loopback_only() -> None:
    for url in (
        "http://10.0.0.1/",
        "https://169.254.169.254/",
        "http://example.com/",
        "https://[::ffff:127.0.0.1]/",
    ):
        assert outbound.post_json(url, BODY, {}, LOCAL).error is not None, url
    assert outbound.validate_url("http://127.0.0.1:8080/hooks", LOCAL) is None
    assert outbound.validate_url("http://[::1]:8080/hooks", LOCAL) is None
    assert outbound.validate_url("http://127.0.0.1:8080/hooks", DEPLOYED) is not None


@pytest.mark.usefixtures("no_connections")
def test_the_lambda_runtime_api_is_refused_even_with_loopback_allowed() -> None:
    policy = Policy(allow_loopback=True, runtime_api="127.0.0.1:9001")
    result = outbound.post_json("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", BODY, {}, policy)
    assert result.error is ErrorKind.FORBIDDEN_ADDRESS
    resolver, _ = resolving(["127.0.0.1"])
    result = outbound.post_json("http://localhost:9001/", BODY, {}, policy, resolver=resolver)
    assert result.error is ErrorKind.FORBIDDEN_ADDRESS


def test_loggable_urls_lose_userinfo_query_and_fragment() -> None:
    url = "https://user:secret@hooks.example.com:8443/in?token=abc#frag"
    assert outbound.loggable_url(url) == "https://hooks.example.com:8443/in"


# --- DNS rebinding ----------------------------------------------------------------------------


def test_the_connection_goes_to_the_vetted_address_not_a_second_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolver, asked = resolving(["93.184.216.34"], ["169.254.169.254"])
    connected: list[str] = []

    def record(address: ipaddress.IPv4Address, port: int, timeout: float) -> socket.socket:
        connected.append(f"{address}:{port}")
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(outbound, "_open_connection", record)
    result = outbound.post_json("https://rebind.example.com/x", BODY, {}, DEPLOYED, resolver=resolver)
    assert connected == ["93.184.216.34:443"]
    assert asked == ["rebind.example.com"]
    assert result.error is ErrorKind.CONNECTION


def test_a_rebinding_name_cannot_move_a_real_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """The system resolver answers 127.0.0.1 once, then 127.0.0.2: only the first is ever used."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []
    with (
        http_receiver(answer(204)) as good,
        http_receiver(answer(204), host="127.0.0.2", port=good.port) as evil,
    ):

        def rebinding(host: str, port: object, *args: object, **kwargs: object) -> object:
            if host != "rebind.localhost":
                return real_getaddrinfo(host, port, *args, **kwargs)  # type: ignore[arg-type]
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        for _ in range(3):
            result = outbound.post_json(f"http://rebind.localhost:{good.port}/hooks", BODY, {}, LOCAL)
            assert (result.status, result.address) == (204, "127.0.0.1")
            lookups.clear()
    assert len(good.received) == 3
    assert evil.received == []


# --- real deliveries on loopback --------------------------------------------------------------


def test_a_delivery_posts_signed_json_the_reference_library_verifies() -> None:
    secret = signing.generate_secret()
    headers = signing.webhook_headers([secret], "msg_01JTEST", int(time.time()), BODY)
    with http_receiver(answer(200, b"thanks")) as receiver:
        result = outbound.post_json(receiver.url + "?q=1", BODY, headers, LOCAL)
    assert result.ok
    assert (result.status, result.error, result.address, result.snippet) == (200, None, "127.0.0.1", "thanks")
    (seen,) = receiver.received
    assert (seen.method, seen.path, seen.body) == ("POST", "/hooks?q=1", BODY)
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"].startswith("people-api")
    assert seen.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert Webhook(secret).verify(seen.body, seen.headers)["type"] == "people.person.created"


def test_callers_cannot_override_the_headers_the_client_owns() -> None:
    with http_receiver(answer(204)) as receiver:
        outbound.post_json(receiver.url, BODY, {"Host": "evil.example", "content-type": "text/plain"}, LOCAL)
    (seen,) = receiver.received
    assert seen.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert seen.headers["Content-Type"] == "application/json"


def test_a_server_error_is_a_failed_attempt_with_its_status_and_body() -> None:
    with http_receiver(answer(500, b'{"error":"boom"}')) as receiver:
        result = outbound.post_json(receiver.url, BODY, {}, LOCAL)
    assert not result.ok
    assert (result.status, result.error, result.snippet) == (500, None, '{"error":"boom"}')


def test_a_redirect_is_not_followed_and_counts_as_a_failure() -> None:
    with (
        http_receiver(answer(204)) as target,
        http_receiver(answer(307, headers={"Location": target.url})) as receiver,
    ):
        result = outbound.post_json(receiver.url, BODY, {}, LOCAL)
    assert (result.ok, result.status) == (False, 307)
    assert "not followed" in result.detail
    assert target.received == []


def _wait_forever(handler: BaseHTTPRequestHandler, _: Received) -> None:
    receiver_release.wait(30)


receiver_release = threading.Event()


@pytest.fixture
def released() -> Iterator[None]:
    receiver_release.clear()
    yield
    receiver_release.set()


@pytest.mark.usefixtures("released")
def test_a_receiver_that_never_answers_times_out() -> None:
    with http_receiver(_wait_forever) as receiver:
        result = outbound.post_json(receiver.url, BODY, {}, Policy(allow_loopback=True, timeout=0.3))
    assert (result.status, result.error) == (None, ErrorKind.TIMEOUT)


def test_one_deadline_covers_a_receiver_that_dribbles_its_headers() -> None:
    """Every byte comes quickly, so only a total deadline (not a per-read timeout) stops it."""

    def dribble(sock: socket.socket, release: threading.Event) -> None:
        sock.recv(65536)
        sock.sendall(b"HTTP/1.1 200 OK\r\n")
        for n in range(90):  # under http.client's limit of 100 headers
            if release.wait(0.05):
                return
            sock.sendall(b"X-Slow-%d: 1\r\n" % n)

    with raw_receiver(dribble) as receiver:
        result = outbound.post_json(receiver.url, BODY, {}, Policy(allow_loopback=True, timeout=0.5))
    assert (result.status, result.error) == (None, ErrorKind.TIMEOUT)


HUGE = b"x" * (10 * 1024 * 1024)


def _huge_chunked(handler: BaseHTTPRequestHandler, _: Received) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for _chunk in range(160):
        handler.wfile.write(b"10000\r\n" + b"y" * 0x10000 + b"\r\n")
    handler.wfile.write(b"0\r\n\r\n")


@pytest.mark.parametrize("behaviour", [answer(200, HUGE), _huge_chunked], ids=["content-length", "chunked"])
def test_a_huge_answer_is_read_only_to_64_kib(behaviour: object, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[int] = []
    recv_into = outbound._DeadlineSocket.recv_into

    def counting(self: outbound._DeadlineSocket, buffer: memoryview) -> int:
        taken.append(recv_into(self, buffer))
        return taken[-1]

    monkeypatch.setattr(outbound._DeadlineSocket, "recv_into", counting)
    with http_receiver(behaviour) as receiver:  # type: ignore[arg-type]
        result = outbound.post_json(receiver.url, BODY, {}, LOCAL)
    assert (result.status, result.body_bytes, result.truncated) == (200, 64 * 1024, True)
    assert len(result.snippet) == outbound.SNIPPET_BYTES
    # Of the 10 MiB offered, only the 64 KiB (plus headers and one read-ahead buffer) left the socket.
    assert sum(taken) < 64 * 1024 + 32 * 1024


def test_an_answer_of_exactly_64_kib_is_not_truncated() -> None:
    with http_receiver(answer(200, b"z" * 64 * 1024)) as receiver:
        result = outbound.post_json(receiver.url, BODY, {}, LOCAL)
    assert (result.body_bytes, result.truncated) == (64 * 1024, False)


def test_a_refused_connection_is_a_connection_error() -> None:
    result = outbound.post_json(f"http://127.0.0.1:{free_port()}/hooks", BODY, {}, LOCAL)
    assert (result.status, result.error, result.address) == (None, ErrorKind.CONNECTION, None)


def test_a_receiver_closing_without_answering_is_a_connection_error() -> None:
    def hang_up(sock: socket.socket, release: threading.Event) -> None:
        sock.recv(65536)

    with raw_receiver(hang_up) as receiver:
        result = outbound.post_json(receiver.url, BODY, {}, LOCAL)
    assert (result.status, result.error) == (None, ErrorKind.CONNECTION)


def test_an_answer_that_is_not_http_is_a_protocol_error() -> None:
    def babble(sock: socket.socket, release: threading.Event) -> None:
        sock.recv(65536)
        sock.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    with raw_receiver(babble) as receiver:
        result = outbound.post_json(receiver.url, BODY, {}, LOCAL)
    assert (result.status, result.error) == (None, ErrorKind.PROTOCOL)


def test_a_receiver_that_recovers_gets_the_next_attempt() -> None:
    statuses = iter([503, 500, 200])

    def flaky(handler: BaseHTTPRequestHandler, seen: Received) -> None:
        answer(next(statuses))(handler, seen)

    with http_receiver(flaky) as receiver:
        results = [outbound.post_json(receiver.url, BODY, {}, LOCAL) for _ in range(3)]
    assert [r.status for r in results] == [503, 500, 200]
    assert [r.ok for r in results] == [False, False, True]
    assert len(receiver.received) == 3


# --- TLS: SNI and certificate checks use the name while the address stays pinned --------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.example.com")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _tls_server(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def test_https_delivery_pins_the_address_and_verifies_the_name(certificate: tuple[Path, Path]) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    resolver, asked = resolving(["127.0.0.1"])
    with http_receiver(answer(202, b"queued"), tls=_tls_server(certificate)) as receiver:
        url = f"https://hooks.example.com:{receiver.port}/in"
        result = outbound.post_json(url, BODY, {}, LOCAL, resolver=resolver, tls_context=trusting)
    assert (result.status, result.snippet, result.address) == (202, "queued", "127.0.0.1")
    assert receiver.server_names == ["hooks.example.com"]
    assert receiver.received[0].headers["Host"] == f"hooks.example.com:{receiver.port}"
    assert asked == ["hooks.example.com"]


def test_an_untrusted_certificate_is_a_tls_error(certificate: tuple[Path, Path]) -> None:
    resolver, _ = resolving(["127.0.0.1"])
    with http_receiver(answer(200), tls=_tls_server(certificate)) as receiver:
        result = outbound.post_json(
            f"https://hooks.example.com:{receiver.port}/in", BODY, {}, LOCAL, resolver=resolver
        )
    assert (result.status, result.error) == (None, ErrorKind.TLS)
    assert receiver.received == []


def test_a_certificate_for_another_name_is_a_tls_error(certificate: tuple[Path, Path]) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    resolver, _ = resolving(["127.0.0.1"])
    with http_receiver(answer(200), tls=_tls_server(certificate)) as receiver:
        url = f"https://other.example.org:{receiver.port}/in"
        result = outbound.post_json(url, BODY, {}, LOCAL, resolver=resolver, tls_context=trusting)
    assert (result.status, result.error) == (None, ErrorKind.TLS)


def test_results_serialise_to_json_for_the_attempt_log() -> None:
    with http_receiver(answer(204)) as receiver:
        result = outbound.post_json(receiver.url, BODY, {}, LOCAL)
    assert json.loads(json.dumps(result._asdict()))["status"] == 204


def test_plain_http_to_a_public_address_is_refused_even_locally() -> None:
    assert outbound.post_json("http://93.184.216.34/", BODY, {}, LOCAL).error is ErrorKind.FORBIDDEN_ADDRESS


def test_a_name_that_does_not_resolve_is_a_dns_error() -> None:
    def fail(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = outbound.post_json("https://nowhere.example.com/", BODY, {}, DEPLOYED, resolver=fail)
    assert (result.status, result.error) == (None, ErrorKind.DNS)
    result = outbound.post_json("https://empty.example.com/", BODY, {}, DEPLOYED, resolver=lambda h, p: [])
    assert result.error is ErrorKind.DNS


@pytest.mark.usefixtures("released")
def test_a_lookup_that_hangs_is_bounded_by_the_deadline() -> None:
    def hang(host: str, port: int) -> Sequence[str]:
        receiver_release.wait(30)
        return ["93.184.216.34"]

    result = outbound.post_json("https://slow-dns.example.com/", BODY, {}, Policy(timeout=0.2), resolver=hang)
    assert (result.status, result.error) == (None, ErrorKind.TIMEOUT)


def test_the_next_vetted_address_is_tried_when_one_refuses() -> None:
    with http_receiver(answer(204)) as receiver:
        resolver, _ = resolving(["127.0.0.2", "127.0.0.1"])  # nothing listens on 127.0.0.2
        result = outbound.post_json(
            f"http://two.localhost:{receiver.port}/", BODY, {}, LOCAL, resolver=resolver
        )
    assert (result.status, result.address) == (204, "127.0.0.1")


def test_a_body_cut_short_keeps_the_status() -> None:
    def cut(sock: socket.socket, release: threading.Event) -> None:
        sock.recv(65536)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")

    with raw_receiver(cut) as receiver:
        result = outbound.post_json(receiver.url, BODY, {}, LOCAL)
    assert (result.status, result.snippet, result.truncated) == (200, "partial", False)
