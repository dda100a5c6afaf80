"""The one outbound HTTP client: POSTs JSON to URLs users type, and never to an internal address.

Everything that makes a request to a user-supplied URL goes through `post_json`, which owns:

- URLs: `https://` only; `http://` only to loopback receivers, and loopback at all only when the
  policy allows it (the local stage). No userinfo, no numeric-looking host names (`2130706433`,
  `0177.0.0.1`, `127.1`), no zone ids, at most 2,000 characters.
- Addresses: the host is resolved once, and every answer must be a public unicast address (see
  `address_refusal`: loopback, private, shared, link-local including the instance metadata
  service, multicast, reserved, documentation, benchmarking, unspecified, and their IPv4-mapped,
  NAT64, 6to4 and Teredo forms, IPv4 and IPv6). The socket is then connected to the vetted
  address itself, never to the name, and the peer it reached is checked again, so a second DNS
  answer (rebinding) cannot move the request. TLS uses the host name for SNI and certificate
  checks, and `Host` names it, so virtual hosting works while the address stays pinned.
- Time: one deadline (10 s) covers the lookup, connect, TLS handshake, sending and reading;
  every socket operation gets only what is left, so a receiver dribbling bytes cannot stretch it.
- Responses: redirects are never followed (a 3xx is a failed attempt, the spec's advice), and at
  most 64 KiB of the body is read. Nothing here reads proxy settings from the environment.

The result is a small value (status or error kind, duration, peer address, a body snippet) for
the caller to record; nothing is logged here. `loggable_url` strips what must not be logged.
"""

from __future__ import annotations

import enum
import io
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final, NamedTuple, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:  # imported where used, so validating a URL (the API's path) does not load them
    import http.client
    import ssl

USER_AGENT: Final = "people-api-webhooks/0.1 (Standard Webhooks)"
TIMEOUT_SECONDS: Final = 10.0
MAX_RESPONSE_BYTES: Final = 64 * 1024
SNIPPET_BYTES: Final = 1024
MAX_URL_LENGTH: Final = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to, as strings (injectable for tests).
Resolver = Callable[[str, int], Sequence[str]]


class ErrorKind(enum.StrEnum):
    """Why an attempt got no HTTP status."""

    INVALID_URL = "invalid_url"
    FORBIDDEN_ADDRESS = "forbidden_address"
    DNS = "dns_error"
    CONNECTION = "connection_error"
    TIMEOUT = "timeout"
    TLS = "tls_error"
    PROTOCOL = "protocol_error"


class Policy(NamedTuple):
    """Where requests may go: deployed stages keep the defaults; the local stage allows loopback."""

    allow_loopback: bool = False
    # The Lambda runtime API ("127.0.0.1:9001", from AWS_LAMBDA_RUNTIME_API): refused even when
    # loopback is allowed, so a misconfigured stage still cannot reach it.
    runtime_api: str | None = None
    timeout: float = TIMEOUT_SECONDS


class Result(NamedTuple):
    """What one POST came to: an HTTP status, or the kind of error that prevented one."""

    status: int | None
    error: ErrorKind | None
    detail: str
    duration_ms: int
    address: str | None = None
    snippet: str = ""
    body_bytes: int = 0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """True for a 2xx answer, the only success."""
        return self.status is not None and 200 <= self.status < 300


class Refused(Exception):
    """A request that must not be made, or that failed before an HTTP status arrived."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class Target(NamedTuple):
    """A URL that passed the static checks: where to connect, and what to send as Host and path."""

    scheme: str
    host: str  # lower-case ASCII, no brackets, no trailing dot
    literal: IPAddress | None  # set when the host is an IP address
    port: int
    path: str  # path and query; the fragment is never sent
    host_header: str


# --- addresses ------------------------------------------------------------------------------

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# IANA's IPv4 special-purpose registry (RFC 6890 and successors), plus multicast and class E.
# The `is_global`/`is_private` properties are not used: they differ between Python versions and
# call multicast, 6to4 and some documentation ranges global.
_V4_REFUSED: Final[tuple[tuple[ipaddress.IPv4Network, str], ...]] = (
    (_V4("0.0.0.0/8"), "unspecified ('this network')"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared address space (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local (instance metadata)"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.31.196.0/24"), "AS112"),
    (_V4("192.52.193.0/24"), "AMT"),
    (_V4("192.88.99.0/24"), "6to4 relay anycast"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("192.175.48.0/24"), "AS112"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved (including broadcast)"),
)
_V6_REFUSED: Final[tuple[tuple[ipaddress.IPv6Network, str], ...]] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::/8"), "reserved (IPv4-compatible and translated forms)"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("100::/64"), "discard-only"),
    (_V6("2001::/23"), "IETF protocol assignments (including Teredo)"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("2002::/16"), "6to4"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("5f00::/16"), "segment routing"),
    (_V6("fc00::/7"), "unique local (private; includes the instance metadata fd00:ec2::254)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local"),
    (_V6("ff00::/8"), "multicast"),
)
_NAT64: Final = _V6("64:ff9b::/96")
_GLOBAL_UNICAST: Final = _V6("2000::/3")


def address_refusal(address: IPAddress) -> str | None:
    """Why this address must not be connected to, or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv4Address):
        for network, reason in _V4_REFUSED:
            if address in network:
                return reason
        return None
    embedded = address.ipv4_mapped
    form = "IPv4-mapped"
    if embedded is None and address in _NAT64:
        embedded, form = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if embedded is not None:
        inner = address_refusal(embedded)
        return f"{form} {embedded}: {inner}" if inner else None
    if address.sixtofour is not None:
        inner = address_refusal(address.sixtofour)
        return f"6to4 of {address.sixtofour}" + (f": {inner}" if inner else "")
    for network6, reason in _V6_REFUSED:
        if address in network6:
            return reason
    if address not in _GLOBAL_UNICAST:
        return "reserved (outside global unicast 2000::/3)"
    return None


def _is_plain_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return address in _V4("127.0.0.0/8")
    return address == ipaddress.IPv6Address("::1")


def _runtime_api(policy: Policy) -> tuple[IPAddress, int] | None:
    if not policy.runtime_api:
        return None
    host, _, port = policy.runtime_api.rpartition(":")
    try:
        return ipaddress.ip_address(host.strip("[]")), int(port)
    except ValueError:
        return None


def vet_address(address: IPAddress, port: int, scheme: str, policy: Policy) -> None:
    """Raise Refused(FORBIDDEN_ADDRESS) unless a connection to address:port is allowed."""
    runtime = _runtime_api(policy)
    if runtime is not None and (address, port) == runtime:
        raise Refused(ErrorKind.FORBIDDEN_ADDRESS, f"{address}:{port} is the Lambda runtime API")
    if policy.allow_loopback and _is_plain_loopback(address):
        return
    reason = address_refusal(address)
    if reason is not None:
        raise Refused(ErrorKind.FORBIDDEN_ADDRESS, f"{address} is {reason}")
    if scheme != "https":
        raise Refused(ErrorKind.FORBIDDEN_ADDRESS, "plain http:// is only for loopback receivers")


# --- URLs -----------------------------------------------------------------------------------

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_BAD_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\@%]")


def parse_url(url: str, policy: Policy) -> Target:
    """Check a URL without any network access; raise Refused(INVALID_URL or FORBIDDEN_ADDRESS)."""
    if len(url) > MAX_URL_LENGTH:
        raise Refused(ErrorKind.INVALID_URL, f"a URL is at most {MAX_URL_LENGTH} characters")
    if re.search(r"[\x00-\x20\x7f]", url):
        raise Refused(ErrorKind.INVALID_URL, "a URL has no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Refused(ErrorKind.INVALID_URL, f"not a URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise Refused(ErrorKind.INVALID_URL, "only https:// URLs are accepted")
    if scheme == "http" and not policy.allow_loopback:
        raise Refused(ErrorKind.INVALID_URL, "only https:// URLs are accepted")
    if _BAD_CHARACTERS.search(parts.netloc):
        raise Refused(ErrorKind.INVALID_URL, "a URL's host part has no userinfo, zone id or backslash")
    host, literal = _parse_host(parts.netloc.rpartition(":")[0] if port is not None else parts.netloc)
    if port == 0:
        raise Refused(ErrorKind.INVALID_URL, "port 0 is not a port")
    default_port = 443 if scheme == "https" else 80
    port = port or default_port
    # RFC 6761: localhost and *.localhost are loopback names; whatever they resolve to is vetted again.
    loopback_name = host == "localhost" or host.endswith(".localhost")
    if literal is not None:
        vet_address(literal, port, scheme, policy)
    elif loopback_name and not policy.allow_loopback:
        raise Refused(ErrorKind.FORBIDDEN_ADDRESS, f"{host} is loopback")
    elif scheme == "http" and not loopback_name:
        raise Refused(ErrorKind.FORBIDDEN_ADDRESS, "plain http:// is only for loopback receivers")
    shown = f"[{host}]" if isinstance(literal, ipaddress.IPv6Address) else host
    host_header = shown if port == default_port else f"{shown}:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.isascii():
        raise Refused(ErrorKind.INVALID_URL, "percent-encode non-ASCII characters in the path and query")
    return Target(scheme, host, literal, port, path, host_header)


def _parse_host(netloc_host: str) -> tuple[str, IPAddress | None]:
    if netloc_host.startswith("["):
        if not netloc_host.endswith("]"):
            raise Refused(ErrorKind.INVALID_URL, "an IPv6 host is written [address]")
        try:
            return netloc_host[1:-1].lower(), ipaddress.IPv6Address(netloc_host[1:-1])
        except ValueError:
            raise Refused(ErrorKind.INVALID_URL, "not an IPv6 address") from None
    host = netloc_host.lower()
    host = host[:-1] if host.endswith(".") else host
    try:
        return host, ipaddress.IPv4Address(host)
    except ValueError:
        pass
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refused(ErrorKind.INVALID_URL, "not a valid host name") from None
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise Refused(ErrorKind.INVALID_URL, "not a valid host name")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # Resolvers read `2130706433`, `0177.1` or `0x7f.1` as IPv4 addresses; no real name ends so.
        raise Refused(ErrorKind.INVALID_URL, "a numeric host must be a dotted-quad IPv4 address")
    return host, None


def validate_url(url: str, policy: Policy) -> str | None:
    """Why a URL cannot be registered (static checks, no DNS), or None; for the API's 422s."""
    try:
        parse_url(url, policy)
    except Refused as refused:
        return refused.detail
    return None


def loggable_url(url: str) -> str:
    """The URL without userinfo, query or fragment: safe to log."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}{port}{parts.path}"


# --- the request ----------------------------------------------------------------------------


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("the attempt ran out of time")
        return left


class _DeadlineSocket:
    """The socket http.client sees: every send and receive gets only the time left."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._deadline.remaining())
        self._sock.sendall(data)

    def recv_into(self, buffer: memoryview) -> int:
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        self._sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._sock.recv_into(buffer)


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _resolve(host: str, port: int, resolver: Resolver, deadline: _Deadline) -> list[IPAddress]:
    """The host's addresses, in the resolver's order; the lookup is bounded by the deadline."""
    answer: list[Sequence[str] | BaseException] = []

    def lookup() -> None:
        try:
            answer.append(resolver(host, port))
        except BaseException as error:  # handed to the caller's thread
            answer.append(error)

    # getaddrinfo has no timeout of its own; a daemon thread lets the deadline cover it.
    worker = threading.Thread(target=lookup, name="outbound-dns", daemon=True)
    worker.start()
    worker.join(deadline.remaining())
    if not answer:
        raise Refused(ErrorKind.TIMEOUT, f"looking up {host} took too long")
    result = answer[0]
    if isinstance(result, BaseException):
        raise Refused(ErrorKind.DNS, f"{host} could not be resolved: {result}")
    addresses: list[IPAddress] = []
    for raw in result:
        try:
            address = ipaddress.ip_address(raw)
        except ValueError:
            raise Refused(ErrorKind.DNS, f"{host} resolved to {raw!r}, not an address") from None
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Refused(ErrorKind.DNS, f"{host} has no addresses")
    return addresses


def _open_connection(address: IPAddress, port: int, timeout: float) -> socket.socket:
    """A TCP connection to exactly this address (no name is looked up here)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


def _connect(target: Target, policy: Policy, resolver: Resolver, deadline: _Deadline) -> socket.socket:
    if target.literal is not None:
        addresses: list[IPAddress] = [target.literal]
    else:
        addresses = _resolve(target.host, target.port, resolver, deadline)
    # Every answer is vetted, not only the one used: a name that points inside at all is refused.
    for address in addresses:
        vet_address(address, target.port, target.scheme, policy)
    last_error: OSError | None = None
    for address in addresses:
        try:
            sock = _open_connection(address, target.port, deadline.remaining())
        except TimeoutError:
            raise
        except OSError as error:
            last_error = error
            continue
        try:
            peer = ipaddress.ip_address(sock.getpeername()[0])
            if peer != address:
                raise Refused(ErrorKind.FORBIDDEN_ADDRESS, f"connected to {peer}, not the vetted {address}")
            vet_address(peer, target.port, target.scheme, policy)
        except BaseException:
            sock.close()
            raise
        return sock
    raise last_error or ConnectionError("no address could be reached")


_tls: ssl.SSLContext | None = None


def _default_tls() -> ssl.SSLContext:
    """The system trust store, loaded once per process on first use (not at import)."""
    import ssl

    global _tls
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


def _read_body(response: http.client.HTTPResponse) -> tuple[bytes, bool]:
    """At most MAX_RESPONSE_BYTES of the body, and whether more was there."""
    import http.client

    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_RESPONSE_BYTES:
            chunk = response.read(min(16 * 1024, MAX_RESPONSE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (OSError, http.client.HTTPException):
        # The status already arrived, and it is the outcome; a body cut short changes nothing.
        pass
    body = b"".join(chunks)
    return body[:MAX_RESPONSE_BYTES], size > MAX_RESPONSE_BYTES


def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: Policy,
    *,
    resolver: Resolver | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> Result:
    """POST a JSON body to a user's URL under the policy; never raises for network outcomes."""
    import http.client
    import ssl

    started = time.monotonic()
    deadline = _Deadline(policy.timeout)
    address: str | None = None

    def done(
        status: int | None,
        error: ErrorKind | None,
        detail: str,
        content: bytes = b"",
        truncated: bool = False,
    ) -> Result:
        duration_ms = round((time.monotonic() - started) * 1000)
        snippet = content[:SNIPPET_BYTES].decode("utf-8", "replace")
        return Result(status, error, detail, duration_ms, address, snippet, len(content), truncated)

    sock: socket.socket | None = None
    try:
        target = parse_url(url, policy)
        sock = _connect(target, policy, resolver or _system_resolver, deadline)
        address = str(ipaddress.ip_address(sock.getpeername()[0]))
        if target.scheme == "https":
            sock.settimeout(deadline.remaining())
            context = tls_context or _default_tls()
            sock = context.wrap_socket(sock, server_hostname=target.host)
        connection = http.client.HTTPConnection(target.host, target.port)
        connection.sock = cast(socket.socket, _DeadlineSocket(sock, deadline))
        fixed = {
            "Host": target.host_header,
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "Accept": "*/*",
            "Connection": "close",
        }
        owned = {name.lower() for name in fixed} | {"content-length", "transfer-encoding"}
        sent = {**{k: v for k, v in headers.items() if k.lower() not in owned}, **fixed}
        connection.request("POST", target.path, body=body, headers=sent)
        response = connection.getresponse()
        content, truncated = _read_body(response)
        status = response.status
        detail = response.reason or ""
        if 300 <= status < 400:
            detail = f"{status} redirect not followed (update the webhook URL instead)"
        return done(status, None, detail, content, truncated)
    except Refused as refused:
        return done(None, refused.kind, refused.detail)
    except TimeoutError:
        return done(None, ErrorKind.TIMEOUT, f"no complete answer within {policy.timeout:g} s")
    except ssl.SSLError as error:
        return done(None, ErrorKind.TLS, f"TLS failed: {error.reason or error}")
    except http.client.RemoteDisconnected:
        return done(None, ErrorKind.CONNECTION, "the receiver closed the connection without answering")
    except http.client.HTTPException as error:
        return done(None, ErrorKind.PROTOCOL, f"not an HTTP answer: {type(error).__name__}")
    except OSError as error:
        return done(None, ErrorKind.CONNECTION, f"connection failed: {error.strerror or error}")
    finally:
        if sock is not None:
            sock.close()
