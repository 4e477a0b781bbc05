"""The hub's tables. Alembic migrations in `migrations/` create them; a test checks they agree."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

# Times are integers of microseconds since the epoch (UTC): portable, indexable, exact.

members = Table(
    "members",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("sector", String(100), nullable=True),
    Column("consent", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("contact", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    # JSON list: other names that identify it (short names, domains), hidden like its name.
    Column("aliases", Text, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(20), nullable=False),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=True),
    Column("status", String(20), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    # The console's second factor: the TOTP secret sealed under a key derived from the session
    # key (never in the clear), whether an admin requires one, and the last time step used (a
    # code is accepted once).
    Column("totp_secret", Text, nullable=True),
    Column("totp_required", Boolean, nullable=False, server_default=false()),
    Column("totp_last_step", BigInteger, nullable=True),
    Column("last_sign_in_us", BigInteger, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    # HMAC-SHA256(pepper, secret), hex: the secret itself is never stored.
    Column("digest", String(64), nullable=False, unique=True),
    Column("scope", String(20), nullable=False),
    Column("label", String(200), nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=True),
    Column("revoked_us", BigInteger, nullable=True),
    Column("last_used_us", BigInteger, nullable=True),
)

collections = Table(
    "collections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("alias", String(63), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("readers", Text, nullable=False),  # JSON list of principals
    Column("writers", Text, nullable=False),
    # Defined in the config file (synchronised at start) or added with `hub collection add`.
    Column("source", String(20), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    # Writers lock this row, so sequence numbers and date_added are handed out in commit order.
    Column("next_seq", BigInteger, nullable=False),
    Column("last_added_us", BigInteger, nullable=False),
)

object_versions = Table(
    "object_versions",
    metadata,
    Column("collection_id", String(36), ForeignKey("collections.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("object_id", String(300), nullable=False),
    Column("type", String(250), nullable=False),
    Column("spec_version", String(8), nullable=False),
    Column("version_us", BigInteger, nullable=False),
    Column("version_text", String(40), nullable=True),  # None: the object has no version
    Column("date_added_us", BigInteger, nullable=False),
    Column("is_latest", Boolean, nullable=False),
    Column("is_first", Boolean, nullable=False),
    Column("submitted_by", String(36), ForeignKey("members.id"), nullable=True),
    Column("body", Text, nullable=False),  # the object as compact JSON
    UniqueConstraint("collection_id", "object_id", "version_us"),
    Index(None, "collection_id", "is_latest", "seq"),
    Index(None, "collection_id", "type", "seq"),
    Index(None, "collection_id", "date_added_us"),
)

statuses = Table(
    "statuses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("collection_id", String(36), ForeignKey("collections.id"), nullable=False),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("request_us", BigInteger, nullable=False),
    Column("total_count", Integer, nullable=False),
    Column("success_count", Integer, nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("pending_count", Integer, nullable=False),
)

# One row per outcome per processed chunk (not per object): a chunk of 1,000 objects adds one
# or two rows, so a status resource costs little to keep exact as the pipeline goes.
status_details = Table(
    "status_details",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("status_id", String(36), ForeignKey("statuses.id"), nullable=False, index=True),
    Column("outcome", String(10), nullable=False),  # success | failure | pending
    Column("details", Text, nullable=False),  # JSON list of [object_id, version, message]
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("collection_id", String(36), ForeignKey("collections.id"), nullable=False),
    Column("status_id", String(36), ForeignKey("statuses.id"), nullable=False, unique=True),
    Column("channel", String(20), nullable=False),  # taxii | api
    Column("content_type", String(100), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("state", String(20), nullable=False),  # pending | done
    # Objects handled so far, in order; moves forward in the same transaction as what they
    # stored, so processing resumes exactly where a dead worker stopped.
    Column("processed_count", Integer, nullable=False),
    Column("enqueued_us", BigInteger, nullable=False),
    Column("finished_us", BigInteger, nullable=True),
    # The client's Idempotency-Key header: the same key from the same member is one submission.
    Column("idempotency_key", String(200), nullable=True),
    # For CSV and text lists: the TLP given for rows that name none (`?tlp=`).
    Column("default_tlp", String(20), nullable=True),
    # When retention emptied `raw` (the metadata and SHA-256 stay).
    Column("raw_purged_us", BigInteger, nullable=True),
    # The X-Request-Id of the request that brought it, so the worker's logs carry it too.
    Column("request_id", String(128), nullable=True),
    Index(None, "state", "enqueued_us"),
    UniqueConstraint("member_id", "idempotency_key"),
)

# --- sharing -------------------------------------------------------------------------------

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_us", BigInteger, nullable=False),
    Column("source", String(20), nullable=False),  # config | console | cli
    Column("author", String(320), nullable=True),
    Column("digest", String(64), nullable=False),
    Column("document", Text, nullable=False),  # the policy as canonical JSON
    Column("note", Text, nullable=True),
    # Source "config": the policy the configuration file described, which `document` carries
    # onto settings changed in the console since (NULL in versions older than 0010: the same
    # as `document`). The next start compares the file with it.
    Column("config_document", Text, nullable=True),
)

pseudonym_epochs = Table(
    "pseudonym_epochs",
    metadata,
    Column("epoch", Integer, primary_key=True, autoincrement=False),
    # HMAC of a constant under the key: tells epochs apart without revealing the key.
    Column("fingerprint", String(32), nullable=False, unique=True),
    Column("started_us", BigInteger, nullable=False),
    Column("ended_us", BigInteger, nullable=True),
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("object_id", String(300), nullable=False),
    Column("version_us", BigInteger, nullable=False),
    Column("feed_id", String(36), ForeignKey("collections.id"), nullable=False),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False),
    Column("submission_id", String(36), nullable=True),
    Column("policy_version", Integer, nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("identity_id", String(300), nullable=False),  # the pseudonym, or the real identity
    Column("named", Boolean, nullable=False),
    Column("redactions", Text, nullable=True),  # JSON [{detector, path}], never the content
    Column("kind", String(20), nullable=False),  # release | revocation | deletion
    Column("released_us", BigInteger, nullable=False),
    Index(None, "object_id", "feed_id"),
    Index(None, "member_id", "released_us"),
    Index(None, "submission_id"),
)

review_items = Table(
    "review_items",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("state", String(20), nullable=False),  # pending | approved | rejected
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False),
    Column("submission_id", String(36), nullable=True),
    Column("object_id", String(300), nullable=False),
    Column("version_us", BigInteger, nullable=False),
    Column("type", String(250), nullable=False),
    Column("body", Text, nullable=False),  # the object as submitted
    Column("reasons", Text, nullable=False),  # JSON list of strings
    Column("hits", Text, nullable=False),  # JSON [{detector, path, text, start, end}]
    Column("policy_version", Integer, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("decided_us", BigInteger, nullable=True),
    Column("decided_by", String(320), nullable=True),
    Column("note", Text, nullable=True),
    Column("edited_body", Text, nullable=True),
    Index(None, "state", "created_us"),
    Index(None, "submission_id"),
    UniqueConstraint("object_id", "version_us"),
)

# --- accountability --------------------------------------------------------------------------

feed_reads = Table(
    "feed_reads",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("read_us", BigInteger, nullable=False),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False),
    Column("key_id", String(40), nullable=False),
    # Copied from the member at read time, so aggregates by kind and sector stay true later.
    Column("member_kind", String(20), nullable=False),
    Column("member_sector", String(100), nullable=True),
    Column("feed_id", String(36), ForeignKey("collections.id"), nullable=False),
    Column("object_count", Integer, nullable=False),
    # The sequence numbers of the versions returned, as JSON runs [[first, last], ...].
    Column("first_seq", BigInteger, nullable=True),
    Column("last_seq", BigInteger, nullable=True),
    Column("seqs", Text, nullable=False),
    Index(None, "feed_id", "first_seq"),
    Index(None, "member_id", "read_us"),
    Index(None, "read_us"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(320), nullable=False),  # user e-mail, key id, "cli:<user>", "hub"
    Column("actor_kind", String(20), nullable=False),  # user | key | cli | system
    Column("member_id", String(36), nullable=True),  # the member acted for or upon
    Column("action", String(80), nullable=False),  # e.g. member.suspend, review.approve
    Column("target", String(300), nullable=True),
    Column("detail", Text, nullable=True),  # JSON, never a secret
    Index(None, "at_us"),
    Index(None, "action", "at_us"),
)

purges = Table(
    "purges",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at_us", BigInteger, nullable=False),
    Column("rule", String(80), nullable=False),  # e.g. raw-submissions, feed:public:expired
    Column("target", String(80), nullable=False),  # what kind of record went
    Column("count", Integer, nullable=False),
    Column("detail", Text, nullable=True),  # JSON: the cut-off, never the content
)

# When an indicator released to a feed stops being valid (its valid_until), by version.
expiries = Table(
    "expiries",
    metadata,
    Column("feed_id", String(36), ForeignKey("collections.id"), primary_key=True),
    Column("object_id", String(300), primary_key=True),
    Column("version_us", BigInteger, primary_key=True, autoincrement=False),
    Column("expires_us", BigInteger, nullable=False),
    Index(None, "expires_us"),
)

# The body of a submission as received, in parts of at most a few MiB: kept apart from the
# submission row, which changes with every processed chunk, and read a part at a time.
submission_parts = Table(
    "submission_parts",
    metadata,
    Column("submission_id", String(36), ForeignKey("submissions.id"), primary_key=True),
    Column("part", Integer, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)

# --- console ---------------------------------------------------------------------------------

console_sessions = Table(
    "console_sessions",
    metadata,
    # SHA-256 of the random token in the cookie, hex: a copy of the table opens no session.
    Column("id", String(64), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=True, index=True),
    Column("created_us", BigInteger, nullable=False),
    Column("last_seen_us", BigInteger, nullable=False, index=True),
    Column("data", Text, nullable=False),  # JSON: the stage of sign-in, the CSRF token
)

# Consecutive failed sign-ins per account ("account:<email>") and per client address
# ("address:<ip>"), and until when each is locked out.
sign_in_throttles = Table(
    "sign_in_throttles",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_us", BigInteger, nullable=False),
    Column("locked_until_us", BigInteger, nullable=True),
)

# --- workers ---------------------------------------------------------------------------------

# Every process that works the submission queue (a `hub worker`, or the web process's pipeline
# thread) records itself here every queue.heartbeat_seconds: the dashboard and /metrics read
# from it which workers are alive. A row is a process run: a restart is a new row.
workers = Table(
    "workers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),  # "worker" (hub worker) or "web"
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", String(40), nullable=False),
    Column("started_us", BigInteger, nullable=False),
    Column("last_seen_us", BigInteger, nullable=False, index=True),
    Column("stopped_us", BigInteger, nullable=True),  # set when it shut down cleanly
    Column("submissions", BigInteger, nullable=False),
    Column("objects", BigInteger, nullable=False),
    Column("current_submission", String(36), nullable=True),
    Column("current_since_us", BigInteger, nullable=True),
)
