from __future__ import annotations

from hub.auth.secrets import hash_password, key_digest, new_key_id, new_key_secret, verify_password


def test_password_hash_is_argon2id_and_verifies() -> None:
    encoded = hash_password("a long enough password")
    assert encoded.startswith("$argon2id$")
    assert "a long enough password" not in encoded
    assert verify_password("a long enough password", encoded)
    assert not verify_password("a long enough passworD", encoded)


def test_same_password_hashes_differently() -> None:
    assert hash_password("same password here") != hash_password("same password here")


def test_garbage_hash_does_not_verify() -> None:
    assert not verify_password("anything", "not-a-phc-string")


def test_key_digest_depends_on_pepper_and_hides_the_secret() -> None:
    secret = new_key_secret()
    digest = key_digest(b"p" * 32, secret)
    assert digest == key_digest(b"p" * 32, secret)
    assert digest != key_digest(b"q" * 32, secret)
    assert secret not in digest
    assert len(digest) == 64


def test_key_ids_and_secrets_are_unique_and_prefixed() -> None:
    ids = {new_key_id() for _ in range(100)}
    secrets = {new_key_secret() for _ in range(100)}
    assert len(ids) == len(secrets) == 100
    assert all(i.startswith("hk_") for i in ids)
    assert all(s.startswith("hks_") and len(s) > 40 for s in secrets)
