"""Turning a CSV or plain-text list of indicators into STIX 2.1 indicator objects.

`convert_csv(text, ...)` and `convert_text(text, ...)` return a `Conversion`: the indicators made
and one `RowError` per problem (line number, column, the value at fault, what is wrong). A bad row
never sinks the rest; a bad CSV header does, because every row is read through it.

Plain text
    One indicator per line, its type detected from the value: URL (has ``://``), file hash (32, 40,
    64 or 128 hex digits: MD5, SHA-1, SHA-256, SHA-512), IPv4 or IPv6 address or CIDR network,
    email sender (has ``@``), else domain name. Blank lines, lines starting with ``#`` and
    comments after whitespace + ``#`` (``198.51.100.7  # C2``) are ignored.

CSV
    A header row is required (blank and ``#`` lines before it are skipped). Column names are
    case-insensitive and trimmed; spaces and hyphens count as underscores (``Valid Until``).
    The delimiter is the first of ``,`` ``;`` tab ``|`` that makes the header name both `type` and
    `value`. Quoting follows RFC 4180 (the `csv` module). Columns:

    ``type``        required; see the types below
    ``value``       required
    ``tlp``         clear (or white), green, amber, amber+strict, red; a ``TLP:`` prefix is fine.
                    Empty: `default_tlp`. Marks the object with the OASIS TLP 2.0 marking.
    ``valid_from``  ``YYYY-MM-DD`` (midnight UTC) or a date and time, ``T`` or space between,
    ``valid_until`` seconds and fraction optional, ``Z`` or ``±HH:MM`` (none means UTC).
                    `valid_from` defaults to `now`; `valid_until` must be later than it.
    ``confidence``  a whole number from 0 to 100
    ``name``        default: the kind and the value, e.g. "IPv4 address 198.51.100.7"
    ``description``
    ``labels``      separated by ``;``

    A column not in this list makes the whole file fail with an error on the header line, as does
    a repeated column: guessing would be unsafe (a misspelt ``tlp`` column would silently drop a
    TLP:RED marking). A value in a cell the header names no column for is a row error.

Types (case-insensitive; ``_`` and spaces count as ``-``)
    ``ipv4`` ``ipv4-addr``; ``ipv6`` ``ipv6-addr``; ``ip`` (either) — an address or a CIDR network
    (host bits must be zero; ``/32`` and ``/128`` become the bare address), e.g.
    ``[ipv4-addr:value = '198.51.100.0/24']``.
    ``domain`` ``domain-name`` ``hostname`` ``fqdn`` — at least two labels of letters, digits,
    ``-`` and ``_``; lowercased, trailing dot dropped; Unicode labels are NFKC-normalised,
    lowercased and Punycode-encoded without IDNA 2003 mappings (``faß.de`` → ``xn--fa-hia.de``, as
    browsers resolve it) → ``[domain-name:value = '…']``.
    ``url`` ``uri`` — scheme and host required; scheme and host lowercased, the host encoded as a
    domain, non-ASCII characters elsewhere percent-encoded, spaces and control characters refused
    → ``[url:value = '…']``.
    ``email`` ``email-src`` ``email-sender`` ``email-from`` — a bare ``local@domain`` address
    (unquoted local part), the domain normalised as above
    → ``[email-message:from_ref.value = '…']``.
    ``md5`` ``sha1`` ``sha-1`` ``sha256`` ``sha-256`` ``sha512`` ``sha-512``; ``hash`` (by length) —
    lowercased hex → ``[file:hashes.MD5 = '…']``, ``[file:hashes.'SHA-1' = '…']``,
    ``[file:hashes.'SHA-256' = '…']``, ``[file:hashes.'SHA-512' = '…']``.

    Defanged values are refanged first: ``hxxp``/``hxxps``/``fxp`` schemes and ``[.]``, ``{.}``,
    ``[dot]``, ``[@]``, ``[at]``, ``[:]``, ``[://]``. In patterns ``\\`` and ``'`` are escaped.

Each indicator has `created` = `modified` = `now` cut to milliseconds, `pattern_type` "stix",
`pattern_version` "2.1", `indicator_types` ["malicious-activity"], `created_by_ref` the
submitter when given, and the options above.

Identity and duplicates
    The id is a UUIDv5 (`INDICATOR_NAMESPACE`) of the submitter, the normalised type key and the
    normalised value, so sending the same list again yields the same ids, not new objects. This
    module sees no history: `keep_history(new, stored)`, given the newest stored version, turns a
    re-sent row into that same version (nothing new: already stored) or a new version that keeps
    the first `created`; the pipeline applies it before validation. Within one list, rows naming
    the same (type, value) after normalisation are kept once, the first valid one; a later
    duplicate whose other columns differ is reported as an error rather than dropped silently.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from hub.stix.markings import TLP2_MARKING_IDS
from hub.stix.objects import is_identifier
from hub.stix.timestamps import TimestampError, format_us, parse_us

# Fixed forever: changing it would change every indicator id the hub has issued.
INDICATOR_NAMESPACE = uuid.UUID("32a766df-b624-4798-be83-d00b40885e3b")

# The OASIS TLP 2.0 marking definitions, by level.
TLP_MARKING_IDS: Mapping[str, str] = TLP2_MARKING_IDS

CSV_COLUMNS = (
    "type",
    "value",
    "tlp",
    "valid_from",
    "valid_until",
    "confidence",
    "name",
    "description",
    "labels",
)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one line: `column` is None where the problem is not one cell's."""

    line: int
    column: str | None
    value: str
    message: str


@dataclass(frozen=True, slots=True)
class Conversion:
    objects: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # ids of the indicators whose row gave valid_from (the others are valid from `now`)
    dated: frozenset[str] = frozenset()


class _Invalid(ValueError):
    """A value that cannot be used; the message says why (without repeating the value)."""


# --- values -------------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-fA-F]+")
_LDH = re.compile(r"[a-z0-9_-]+")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_DEFANGED = re.compile(r"\[\.\]|\{\.\}|\[dot\]|\[@\]|\[at\]|\[:\]|\[://\]", re.IGNORECASE)
_DEFANGED_SCHEME = re.compile(r"^(?:h[xX]{2}p(s?)|(f)xp)(?=:)", re.IGNORECASE)
_REFANG = {"[.]": ".", "{.}": ".", "[dot]": ".", "[@]": "@", "[at]": "@", "[:]": ":"}


def _refang(value: str) -> str:
    value = _DEFANGED.sub(lambda m: _REFANG.get(m.group().lower(), "://"), value)
    return _DEFANGED_SCHEME.sub(lambda m: "ftp" if m.group(2) else f"http{m.group(1)}", value)


def _ip(value: str, version: int | None) -> tuple[str, str]:
    """(type key, normalised value) for an address or CIDR network of `version` (None: either)."""
    wanted = {4: "an IPv4", 6: "an IPv6", None: "an IP"}[version]
    if "%" in value:
        raise _Invalid("a zone index ('%…') has no place in an indicator")
    try:
        if "/" in value:
            loose = ipaddress.ip_network(value, strict=False)
            if loose.network_address != ipaddress.ip_interface(value).ip:
                raise _Invalid(f"host bits are set after the prefix; did you mean {loose}?")
            found: Any = loose if loose.prefixlen < loose.max_prefixlen else loose.network_address
        else:
            found = ipaddress.ip_address(value)
    except ValueError as exc:
        if isinstance(exc, _Invalid):
            raise
        raise _Invalid(f"not {wanted} address or CIDR network") from None
    if version is not None and found.version != version:
        raise _Invalid(
            f"an IPv{found.version} value, not IPv{version}: use type ipv{found.version}"
        )
    return f"ipv{found.version}", str(found.compressed)


def _domain(value: str) -> str:
    """The lowercase ASCII (Punycode) form of a domain name."""
    text = unicodedata.normalize("NFKC", value).translate(_DOTS).lower()
    text = unicodedata.normalize("NFC", text).removesuffix(".")
    if "*" in text:
        raise _Invalid("wildcards are not allowed; give the domain itself")
    labels = text.split(".")
    if len(labels) < 2:
        raise _Invalid("a domain name needs at least two labels, like example.com")
    encoded = []
    for label in labels:
        if not label:
            raise _Invalid("a domain name cannot have an empty label (two dots in a row)")
        if label.startswith("-") or label.endswith("-"):
            raise _Invalid(f"the label {label!r} starts or ends with a hyphen")
        if label.isascii():
            if not _LDH.fullmatch(label):
                raise _Invalid(f"the label {label!r} may hold only letters, digits, '-' and '_'")
            if label.startswith("xn--") and not _is_punycode(label[4:]):
                raise _Invalid(f"the label {label!r} is not valid Punycode")
            ascii_label = label
        else:
            for char in label:
                if not _label_char(char):
                    raise _Invalid(f"the character {char!r} cannot appear in a domain name")
            ascii_label = "xn--" + label.encode("punycode").decode("ascii")
        if len(ascii_label) > 63:
            raise _Invalid(f"the label {label!r} is longer than 63 characters once encoded")
        encoded.append(ascii_label)
    if encoded[-1].isdigit() or "_" in encoded[-1]:
        raise _Invalid("the last label must be a top-level domain (not digits or '_')")
    result = ".".join(encoded)
    if len(result) > 253:
        raise _Invalid("a domain name is at most 253 characters once encoded")
    return result


def _label_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN" or char in "-_"


def _is_punycode(text: str) -> bool:
    """True if `text` is the canonical encoding of a label that has non-ASCII letters."""
    try:
        decoded = text.encode("ascii").decode("punycode")
    except UnicodeError:
        return False
    return (
        not decoded.isascii()
        and all(_label_char(char) for char in decoded)
        and decoded.encode("punycode").decode("ascii") == text
    )


def _unicode_domain(ascii_domain: str) -> str:
    return ".".join(
        label[4:].encode("ascii").decode("punycode") if label.startswith("xn--") else label
        for label in ascii_domain.split(".")
    )


def _host(host: str) -> str:
    if ":" in host:
        try:
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise _Invalid("the host is not a valid IPv6 address") from None
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise _Invalid("the host is not a valid IPv4 address") from None
    return _domain(host)


def _url(value: str) -> str:
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise _Invalid("a URL cannot hold spaces or control characters; percent-encode them")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise _Invalid(f"not a valid URL: {exc}") from None
    if not parts.scheme or not value[len(parts.scheme) :].startswith("://") or not parts.hostname:
        raise _Invalid("a URL needs a scheme and a host, like http://example.com/path")
    scheme = parts.scheme.lower()
    if not _SCHEME.fullmatch(scheme):
        raise _Invalid("the URL scheme is not valid")
    userinfo, _, _ = parts.netloc.rpartition("@")
    netloc = (f"{userinfo}@" if "@" in parts.netloc else "") + _host(parts.hostname)
    if port is not None:
        netloc += f":{port}"
    rest = value[len(parts.scheme) + 3 + len(parts.netloc) :]
    encode = "".join
    return f"{scheme}://{encode(_ascii(c) for c in netloc)}{encode(_ascii(c) for c in rest)}"


def _ascii(char: str) -> str:
    return char if char.isascii() else quote(char, safe="")


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise _Invalid("not an email address (local-part@domain)")
    if "@" in local or local.startswith('"'):
        raise _Invalid("give a bare address local-part@domain (no quoted local parts)")
    if len(local) > 64:
        raise _Invalid("the part before '@' is longer than 64 characters")
    for atom in local.split("."):
        if not atom:
            raise _Invalid("the part before '@' has a leading, trailing or double dot")
        for char in atom:
            if not (_ATEXT.fullmatch(char) or (not char.isascii() and char.isprintable())):
                raise _Invalid(f"the character {char!r} cannot appear before '@'")
    try:
        return f"{local}@{_domain(domain)}"
    except _Invalid as exc:
        raise _Invalid(f"after '@': {exc}") from None


# type key -> (hex digits, name in the STIX hash-algorithm vocabulary)
_HASHES = {
    "md5": (32, "MD5"),
    "sha1": (40, "SHA-1"),
    "sha256": (64, "SHA-256"),
    "sha512": (128, "SHA-512"),
}
_HASH_BY_LENGTH = {length: key for key, (length, _) in _HASHES.items()}


def _hash(value: str, key: str | None) -> tuple[str, str]:
    if not _HEX.fullmatch(value):
        raise _Invalid("a file hash is written in hexadecimal digits only")
    key = key or _HASH_BY_LENGTH.get(len(value))
    if key is None:
        raise _Invalid(
            f"{len(value)} hex digits is not an MD5 (32), SHA-1 (40), SHA-256 (64) or SHA-512 (128)"
        )
    length, name = _HASHES[key]
    if len(value) != length:
        raise _Invalid(f"{name} hashes have {length} hex digits, not {len(value)}")
    return key, value.lower()


# type alias -> normaliser returning (type key, normalised value)
_Normaliser = Callable[[str], tuple[str, str]]
_NORMALISERS: dict[str, _Normaliser] = {
    "ip": lambda v: _ip(v, None),
    "ipv4": lambda v: _ip(v, 4),
    "ipv6": lambda v: _ip(v, 6),
    "domain": lambda v: ("domain", _domain(v)),
    "url": lambda v: ("url", _url(v)),
    "email": lambda v: ("email", _email(v)),
    "hash": lambda v: _hash(v, None),
    "md5": lambda v: _hash(v, "md5"),
    "sha1": lambda v: _hash(v, "sha1"),
    "sha256": lambda v: _hash(v, "sha256"),
    "sha512": lambda v: _hash(v, "sha512"),
}
_ALIASES = {
    **{name: name for name in _NORMALISERS},
    "ipv4-addr": "ipv4",
    "ipv6-addr": "ipv6",
    "domain-name": "domain",
    "hostname": "domain",
    "fqdn": "domain",
    "uri": "url",
    "email-src": "email",
    "email-sender": "email",
    "email-from": "email",
    "sha-1": "sha1",
    "sha-256": "sha256",
    "sha-512": "sha512",
    "file-hash": "hash",
}
# type key -> (noun for the default name, pattern template)
_KINDS = {
    "ipv4": ("IPv4 address", "[ipv4-addr:value = '{}']"),
    "ipv6": ("IPv6 address", "[ipv6-addr:value = '{}']"),
    "domain": ("Domain name", "[domain-name:value = '{}']"),
    "url": ("URL", "[url:value = '{}']"),
    "email": ("Email sender", "[email-message:from_ref.value = '{}']"),
    "md5": ("MD5 hash", "[file:hashes.MD5 = '{}']"),
    "sha1": ("SHA-1 hash", "[file:hashes.'SHA-1' = '{}']"),
    "sha256": ("SHA-256 hash", "[file:hashes.'SHA-256' = '{}']"),
    "sha512": ("SHA-512 hash", "[file:hashes.'SHA-512' = '{}']"),
}


def _detect(value: str) -> str:
    """The type alias a plain value most likely is, or _Invalid with a hint."""
    if "://" in value:
        return "url"
    if _HEX.fullmatch(value) and len(value) in _HASH_BY_LENGTH:
        return "hash"
    if re.fullmatch(r"[0-9.]+(?:/[0-9]+)?", value):
        return "ipv4"
    if ":" in value and re.fullmatch(r"[0-9A-Fa-f:.]+(?:/[0-9]+)?", value):
        return "ipv6"
    if "@" in value:
        return "email"
    if "," in value:
        raise _Invalid("a line holds one value; send several columns as CSV")
    if "/" in value:
        raise _Invalid("this looks like a URL without a scheme; write it like http://…")
    if "." in value:
        return "domain"
    if _HEX.fullmatch(value):
        return "hash"
    raise _Invalid("cannot tell the kind: not an IP address, domain, URL, email or file hash")


def _normalise(alias: str, value: str) -> tuple[str, str]:
    try:
        return _NORMALISERS[alias](value)
    except _Invalid as exc:
        try:
            guess = _NORMALISERS[_detect(value)](value)[0]
        except _Invalid:
            raise exc from None
        if guess == alias or guess.startswith(alias.rstrip("46")):
            raise
        raise _Invalid(f"{exc} (type {guess} fits this value)") from None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


# --- other columns ------------------------------------------------------------------------------

_WHEN = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?"
)


def _timestamp(text: str) -> str:
    """A date or date-time as a STIX timestamp in UTC with millisecond precision."""
    match = _WHEN.fullmatch(text)
    if match is None:
        raise _Invalid("expected a date YYYY-MM-DD or a date and time like 2026-01-31T12:00:00Z")
    year, month, day, hour, minute, second, frac, _z, sign, off_h, off_m = match.groups()
    offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
    try:
        when = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((frac or "")[:6].ljust(6, "0")),
            tzinfo=timezone(-offset if sign == "-" else offset),
        ).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise _Invalid(f"not a real date and time: {exc}") from None
    return (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:"
        f"{when.second:02d}.{when.microsecond // 1000:03d}Z"
    )


def tlp_marking_id(level: str) -> str:
    """The TLP 2.0 marking-definition id for a level name ("amber+strict", "TLP:WHITE", …)."""
    key = level.strip().lower().removeprefix("tlp:").strip()
    key = re.sub(r"[\s_-]+", "+", key)
    key = "clear" if key == "white" else key
    if key not in TLP_MARKING_IDS:
        raise ValueError("unknown TLP level; use clear, green, amber, amber+strict or red")
    return TLP_MARKING_IDS[key]


def _confidence(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", text) or int(text) > 100:
        raise _Invalid("confidence must be a whole number from 0 to 100")
    return int(text)


# --- rows ---------------------------------------------------------------------------------------


class _Builder:
    """Turns rows into indicators, keeping the first of each (type, value) and every error."""

    def __init__(self, submitter_ref: str | None, now: str, default_tlp: str | None) -> None:
        if submitter_ref is not None and not is_identifier(submitter_ref, "identity"):
            raise ValueError(f"submitter_ref {submitter_ref!r} is not an identity identifier")
        self.submitter_ref = submitter_ref
        self.now = format_us(parse_us(now))[:-4] + "Z"  # microseconds -> milliseconds
        self.default_marking = None if default_tlp is None else tlp_marking_id(default_tlp)
        self.objects: list[dict[str, Any]] = []
        self.errors: list[RowError] = []
        self.dated: set[str] = set()
        self._first: dict[str, tuple[int, dict[str, Any]]] = {}

    def result(self) -> Conversion:
        return Conversion(self.objects, self.errors, frozenset(self.dated))

    def add(self, line: int, cells: Mapping[str, str], *, columns: bool) -> None:
        """One row; `cells` maps column names to trimmed text. Without `columns` (plain text),
        errors name no column and the type is detected."""
        errors: list[RowError] = []

        def fail(column: str, message: str) -> None:
            errors.append(
                RowError(line, column if columns else None, cells.get(column, ""), message)
            )

        raw = cells.get("value", "")
        normalised: tuple[str, str] | None = None
        try:
            if not raw:
                raise _Invalid("the value is empty")
            if "\n" in raw or "\r" in raw:
                raise _Invalid("the value spans several lines (a quote left open?)")
            value = _refang(raw)
            if columns:
                alias = _type_alias(cells.get("type", ""))
                if alias is None:
                    fail("type", _type_message(cells.get("type", "")))
                else:
                    normalised = _normalise(alias, value)
            else:
                normalised = _normalise(_detect(value), value)
        except _Invalid as exc:
            fail("value", str(exc))

        obj: dict[str, Any] = {}
        if normalised is not None:
            obj = self._indicator(*normalised)
        obj["valid_from"] = self.now
        readable = True
        for column in ("valid_from", "valid_until"):
            if cells.get(column):
                try:
                    obj[column] = _timestamp(cells[column])
                except _Invalid as exc:
                    fail(column, str(exc))
                    readable = False
        until, since = obj.get("valid_until"), obj["valid_from"]
        if readable and until is not None and parse_us(until) <= parse_us(since):
            fail("valid_until", f"valid_until must be later than valid_from ({since})")
        if cells.get("confidence"):
            try:
                obj["confidence"] = _confidence(cells["confidence"])
            except _Invalid as exc:
                fail("confidence", str(exc))
        labels = [label.strip() for label in cells.get("labels", "").split(";")]
        if any(labels):
            obj["labels"] = list(dict.fromkeys(label for label in labels if label))
        for column in ("name", "description"):
            if cells.get(column):
                obj[column] = cells[column]
        marking = self.default_marking
        if cells.get("tlp"):
            try:
                marking = tlp_marking_id(cells["tlp"])
            except ValueError as exc:
                fail("tlp", str(exc))
        if marking is not None:
            obj["object_marking_refs"] = [marking]
        if errors or normalised is None:
            self.errors.extend(errors)
            return
        indicator = {key: obj[key] for key in _ORDER if key in obj}
        if self._keep(line, raw, indicator) and cells.get("valid_from"):
            self.dated.add(indicator["id"])

    def _indicator(self, key: str, value: str) -> dict[str, Any]:
        noun, template = _KINDS[key]
        if key.startswith("ip") and "/" in value:
            noun = noun.replace("address", "network")
        shown = value
        if key == "domain" and "xn--" in value:
            shown = f"{value} ({_unicode_domain(value)})"
        name = json.dumps([self.submitter_ref or "", key, value], ensure_ascii=False)
        obj: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(INDICATOR_NAMESPACE, name)}",
            "created": self.now,
            "modified": self.now,
            "name": f"{noun} {shown}",
            "indicator_types": ["malicious-activity"],
            "pattern": template.format(_escape(value)),
            "pattern_type": "stix",
            "pattern_version": "2.1",
        }
        if self.submitter_ref is not None:
            obj["created_by_ref"] = self.submitter_ref
        return obj

    def _keep(self, line: int, raw: str, indicator: dict[str, Any]) -> bool:
        """True if this is the first row of the indicator (kept), else False (dropped)."""
        first = self._first.get(indicator["id"])
        if first is None:
            self._first[indicator["id"]] = (line, indicator)
            self.objects.append(indicator)
            return True
        first_line, kept = first
        differing = sorted(
            k for k in kept.keys() | indicator.keys() if kept.get(k) != indicator.get(k)
        )
        if differing:
            self.errors.append(
                RowError(
                    line,
                    None,
                    raw,
                    f"the same indicator as line {first_line}, which was kept; "
                    f"this line differs in {', '.join(differing)}",
                )
            )
        return False


def keep_history(
    new: dict[str, Any], stored: dict[str, Any] | None, *, dated: bool
) -> dict[str, Any]:
    """The version to store of a converted indicator, given the newest stored version of it.

    A list sent again converts to the same ids with `created` = `modified` = the new `now`.
    Stored as is, each sending would add a version, and `created` would move. So: if the row
    says nothing the stored version does not (ignoring `created`, `modified` and, when the row
    gave none, `valid_from`), the stored version itself, which the hub counts as already
    stored; else a new version that keeps the first `created` (and the first `valid_from` when
    the row gave none), `modified` later than the stored one's.
    """
    if stored is None or not isinstance(stored.get("created"), str):
        return new
    if stored.get("revoked") is True:
        return stored  # revocation is final in STIX 2.1: no version may follow it
    candidate = dict(new, created=stored["created"])
    if not dated and isinstance(stored.get("valid_from"), str):
        candidate["valid_from"] = stored["valid_from"]
    if {k: v for k, v in candidate.items() if k != "modified"} == {
        k: v for k, v in stored.items() if k != "modified"
    }:
        return stored
    try:
        stored_modified = parse_us(stored.get("modified", stored["created"]))
    except TimestampError:
        return candidate
    if parse_us(candidate["modified"]) <= stored_modified:
        later = format_us(stored_modified // 1000 * 1000 + 1000)
        candidate["modified"] = later[:-4] + "Z"  # milliseconds, as converted indicators have
    return candidate


_ORDER = (
    "type", "spec_version", "id", "created", "modified", "created_by_ref", "name", "description",
    "indicator_types", "pattern", "pattern_type", "pattern_version", "valid_from", "valid_until",
    "confidence", "labels", "object_marking_refs",
)  # fmt: skip


def _type_alias(text: str) -> str | None:
    return _ALIASES.get(re.sub(r"[\s_]+", "-", text.strip().lower()))


def _type_message(text: str) -> str:
    if not text:
        return "the type is empty"
    return "unknown type; use ipv4, ipv6, ip, domain, url, email, md5, sha1, sha256, sha512 or hash"


# --- formats ------------------------------------------------------------------------------------


def convert_text(
    text: str, *, submitter_ref: str | None, now: str, default_tlp: str | None = None
) -> Conversion:
    """Indicators from plain text, one value per line, each value's type detected."""
    builder = _Builder(submitter_ref, now, default_tlp)
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff")), 1):
        value = re.split(r"\s#", line, maxsplit=1)[0].strip()
        if value and not value.startswith("#"):
            builder.add(number, {"value": value}, columns=False)
    return builder.result()


def convert_csv(
    text: str, *, submitter_ref: str | None, now: str, default_tlp: str | None = None
) -> Conversion:
    """Indicators from CSV with a header row (columns: see the module docstring)."""
    builder = _Builder(submitter_ref, now, default_tlp)
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    header: list[str] | None = None
    last = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            builder.errors.append(RowError(last + 1, None, "", f"the line cannot be read: {exc}"))
            last = reader.line_num
            continue
        line, last = last + 1, reader.line_num
        if not any(cell.strip() for cell in row) or row[0].strip().startswith("#"):
            continue
        if header is None:
            header = [re.sub(r"[\s-]+", "_", cell.strip().lower()) for cell in row]
            problems = _header_problems(line, row, header)
            if problems:
                return Conversion([], problems)
            continue
        _add_csv_row(builder, line, header, row)
    if header is None:
        return Conversion([], [RowError(1, None, "", "the CSV is empty: it needs a header row")])
    return builder.result()


def _delimiter(text: str) -> str:
    """The delimiter that makes the first non-comment line name both `type` and `value`."""
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            for delimiter in (",", ";", "\t", "|"):
                names = {c.strip().lower() for c in next(csv.reader([line], delimiter=delimiter))}
                if {"type", "value"} <= names:
                    return delimiter
            break
    return ","


def _header_problems(line: int, row: list[str], header: list[str]) -> list[RowError]:
    missing = [name for name in ("type", "value") if name not in header]
    if missing:
        hint = " (the first line must be a header, like type,value)"
        looks_like_data = any(_type_alias(cell) is not None for cell in row)
        return [
            RowError(
                line, name, "", f"the header row has no '{name}' column" + hint * looks_like_data
            )
            for name in missing
        ]
    problems = []
    seen: set[str] = set()
    for name, cell in zip(header, row, strict=True):
        if name and name not in CSV_COLUMNS:
            message = f"unknown column (the file is refused); use {', '.join(CSV_COLUMNS)}"
            problems.append(RowError(line, name, cell, message))
        elif name and name in seen:
            problems.append(RowError(line, name, cell, "the column is named twice"))
        seen.add(name)
    return problems


def _add_csv_row(builder: _Builder, line: int, header: list[str], row: Iterable[str]) -> None:
    cells: dict[str, str] = {}
    for index, cell in enumerate(row):
        name = header[index] if index < len(header) else ""
        if name:
            cells[name] = cell.strip()
        elif cell.strip():
            builder.errors.append(
                RowError(line, None, cell.strip(), f"cell {index + 1} is under no named column")
            )
            return
    builder.add(line, cells, columns=True)
