from __future__ import annotations

import pytest

from hub.auth import totp

# RFC 6238, appendix B: the SHA-1 secret and the codes it gives (the last 6 digits).
RFC_SECRET = b"12345678901234567890"


@pytest.mark.parametrize(
    ("at", "code"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_codes_match_rfc_6238(at: int, code: str) -> None:
    assert totp.code_at(RFC_SECRET, at) == code
    assert totp.matching_step(RFC_SECRET, code, at) == at // 30


def test_a_code_from_one_step_either_side_is_accepted_but_not_two() -> None:
    at = 1_800_000_000
    secret = totp.new_secret()
    assert totp.matching_step(secret, totp.code_at(secret, at - 30), at) == at // 30 - 1
    assert totp.matching_step(secret, totp.code_at(secret, at + 30), at) == at // 30 + 1
    assert totp.matching_step(secret, totp.code_at(secret, at - 90), at) is None


def test_a_used_step_is_not_accepted_again() -> None:
    at = 1_800_000_000
    secret = totp.new_secret()
    code = totp.code_at(secret, at)
    assert totp.matching_step(secret, code, at, after_step=at // 30) is None
    assert totp.matching_step(secret, code, at, after_step=at // 30 - 1) == at // 30


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef"])
def test_malformed_codes_are_refused(code: str) -> None:
    assert totp.matching_step(totp.new_secret(), code, 1_800_000_000) is None


def test_provisioning_uri_names_the_issuer_and_the_account() -> None:
    uri = totp.provisioning_uri(RFC_SECRET, "ops@hub.example", "CERT hub")
    assert uri.startswith("otpauth://totp/CERT%20hub:ops@hub.example?secret=")
    assert "&issuer=CERT%20hub&algorithm=SHA1&digits=6&period=30" in uri
    assert totp.as_base32(RFC_SECRET) in uri


def test_secrets_are_sealed_under_the_session_key() -> None:
    box = totp.SecretBox(b"k" * 48)
    secret = totp.new_secret()
    sealed = box.seal(secret)
    assert totp.as_base32(secret) not in sealed
    assert box.open(sealed) == secret
    with pytest.raises(ValueError, match="another session key"):
        totp.SecretBox(b"j" * 48).open(sealed)


def test_qr_code_is_an_inline_svg() -> None:
    svg = totp.qr_svg(totp.provisioning_uri(RFC_SECRET, "ops@hub.example", "CERT hub"))
    assert svg.startswith('<svg role="img" aria-label="QR code of the key" ')
    assert svg.endswith("</svg>")
