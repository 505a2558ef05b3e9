"""The schema. Alembic migrations under `migrations/` create exactly this."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSVECTOR

metadata = sa.MetaData()

# SQLite only aliases the rowid for INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(32), nullable=False),
    sa.Column("username_lower", sa.String(32), nullable=False, unique=True),
    sa.Column("display_name", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("avatar", sa.String(64), nullable=True),  # blob key of the square avatar (uploads)
    sa.Column("status", sa.String(80), nullable=False, server_default=""),
    # When the account was deleted (issue 11): the row stays as the "deleted user" its kept
    # messages name, with its name, profile, password and sessions gone.
    sa.Column("deleted_at", sa.BigInteger, nullable=True),
    # Bot accounts (issue 12): a bot has an owner, no password, and authenticates with its token.
    sa.Column("bot", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("bot_owner_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)

rooms = sa.Table(
    "rooms",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("topic", sa.String(500), nullable=False, server_default=""),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("creator_id", sa.ForeignKey("users.id"), nullable=True),
    # Highest seq handed out in this room; bumped in the same transaction as the events it numbers.
    sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    # Sorted participant ids of a direct chat, so that finding-or-creating it is idempotent.
    sa.Column("direct_key", sa.String(200), nullable=True, unique=True),
    # moderation (issue 11): seconds a member waits between posts (0: off); who may post
    sa.Column("slow_mode_s", sa.Integer, nullable=False, server_default="0"),
    sa.Column("post_policy", sa.String(16), nullable=False, server_default="everyone"),
    # Retention (issue 11): days the room keeps its messages (null: PARLEY_RETENTION_DAYS; 0: forever),
    # and the seq below which every message has been erased by it.
    sa.Column("retention_days", sa.Integer, nullable=True),
    sa.Column("purged_seq", sa.BigInteger, nullable=False, server_default="0"),
)

# Two public rooms may not share a name, ignoring case; the index (not a read before the write)
# decides, so two racing creations or renames cannot both win.
sa.Index("uq_rooms_public_name", sa.func.lower(rooms.c.name), unique=True,
         sqlite_where=sa.text("kind = 'room' AND visibility = 'public'"),
         postgresql_where=sa.text("kind = 'room' AND visibility = 'public'"))

members = sa.Table(
    "members",
    metadata,
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("read_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("joined_seq", sa.BigInteger, nullable=False, server_default="0"),
    # The seq of the member's latest `member_left` after being joined (0: never left a joined
    # membership): a member who left still finds, by search, what they could read until then.
    sa.Column("left_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    # moderation (issue 11): the member may read but not post or type until then (ms); null: not muted
    sa.Column("muted_until", sa.BigInteger, nullable=True),
    sa.Index("ix_members_user_state", "user_id", "state"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("sender_id", sa.ForeignKey("users.id"), nullable=True),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("client_msg_id", sa.String(64), nullable=True),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("data", sa.Text, nullable=True),
    # A thread reply's root seq (also in `data`): a column so that a thread is an index range.
    sa.Column("thread_root", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("room_id", "seq", name="uq_events_room_seq"),
    sa.UniqueConstraint("room_id", "sender_id", "client_msg_id", name="uq_events_client_msg"),
)
sa.Index("ix_events_thread", events.c.room_id, events.c.thread_root, events.c.seq,
         sqlite_where=sa.text("thread_root IS NOT NULL"), postgresql_where=sa.text("thread_root IS NOT NULL"))

# -- message actions (issue 10) ----------------------------------------------------------------------
# The earlier texts of edited messages, for those who can read the room; erased with the message.
message_versions = sa.Table(
    "message_versions",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("written_at", sa.BigInteger, nullable=False),  # when this text was sent or edited in
    sa.Column("replaced_at", sa.BigInteger, nullable=False),  # when an edit replaced it
    sa.Index("ix_message_versions_message", "room_id", "seq"),
)

# One row per (message, emoji, user): idempotent by its key.
reactions = sa.Table(
    "reactions",
    metadata,
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("emoji", sa.String(128), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

pins = sa.Table(
    "pins",
    metadata,
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("pinned_by", sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("pinned_at", sa.BigInteger, nullable=False),
)

# Every session revocation (logout, password change, disabling), written in the transaction that
# deletes the sessions, so that every node closes their connections whichever process revoked
# them. Nodes read it by id; ids are never reused (AUTOINCREMENT on SQLite) and, on PostgreSQL,
# handed out in commit order (store.users.record_revocation), so `id > last seen` misses nothing.
revocations = sa.Table(
    "revocations",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("user_id", Id, nullable=False),
    sa.Column("session_id", Id, nullable=False),  # 0: every session of the user
    sa.Column("at", sa.BigInteger, nullable=False, index=True),
    sqlite_autoincrement=True,
)

# Uploaded files. `blob` and `thumb` are content-addressed keys of the blob store (sha256): identical
# files share a blob, which is deleted only when no row names it any more. `message_seq` is the
# message of the room that carries it; null until attached (never attached: collected after a day).
uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("uploader_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("blob", sa.String(64), nullable=False),
    sa.Column("thumb", sa.String(64), nullable=True),
    sa.Column("width", sa.Integer, nullable=True),
    sa.Column("height", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.BigInteger, nullable=True),
    sa.Column("waveform", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("message_seq", sa.BigInteger, nullable=True),
    sa.Index("ix_uploads_room_id", "room_id", "id"),
    sa.Index("ix_uploads_uploader", "uploader_id"),
    sa.Index("ix_uploads_blob", "blob"),
    sa.Index("ix_uploads_thumb", "thumb"),
    sa.Index("ix_uploads_created_at", "created_at"),
)
# The message search index (store/search.py), written by the one writer with the messages it
# indexes. On PostgreSQL, this table: a tsvector of the message's tokens (core/search.py) under a
# GIN index. On SQLite the migration creates an FTS5 virtual table of the same name instead
# (rowid = event id, `body` = the tokens separated by spaces); its shadow tables are not described
# here (see SQLITE_ONLY in store/search.py). No foreign key to events (a check and a row lock per
# indexed message): the trigger `message_search_gone` (migration 0021) drops the rows of deleted
# events, on both databases.
message_search = sa.Table(
    "message_search",
    metadata,
    sa.Column("event_id", Id, primary_key=True, autoincrement=False),
    sa.Column("tsv", sa.Text().with_variant(TSVECTOR(), "postgresql"), nullable=False),
)
sa.Index("ix_message_search_tsv", message_search.c.tsv, postgresql_using="gin")

# -- reports and blocks (issue 11) -------------------------------------------------------------------
# A member's report of a message; one per reporter per message (the unique key decides). `snippet`
# keeps the start of the text as it was when reported, so that a moderator still sees what was
# reported once the message is deleted. Resolving a message's reports resolves all its open ones.
reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("sender_id", sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("reporter_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("note", sa.String(500), nullable=False, server_default=""),
    sa.Column("snippet", sa.String(500), nullable=False, server_default=""),
    sa.Column("state", sa.String(16), nullable=False),  # open | resolved
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("resolved_by", sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("action", sa.String(16), nullable=True),
    sa.Column("resolution_note", sa.String(500), nullable=False, server_default=""),
    sa.Column("resolved_at", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("room_id", "seq", "reporter_id", name="uq_reports_reporter"),
    sa.Index("ix_reports_state", "state", "id"),
    sa.Index("ix_reports_room", "room_id", "state", "id"),
    sa.Index("ix_reports_reporter", "reporter_id", "id"),
)

# `user_id` blocks `blocked_id`: no direct chats from them; the blocked user is never told.
blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("blocked_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_blocks_blocked", "blocked_id"),
)

# The spam filter's classifier (core/spam.py): one row, its state and a version bumped by every
# change, so that each node reloads it when the version moves (store/spam.py).
spam_model = sa.Table(
    "spam_model",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

# Messages the spam filter held for review: not in the room log until a moderator approves them.
# `data` is the message's fields as sent ({"text", "attachments", "reply_to", "thread_root"}).
held_messages = sa.Table(
    "held_messages",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("sender_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("client_msg_id", sa.String(64), nullable=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_held_messages_room", "room_id", "id"),
    sa.Index("ix_held_messages_sender", "sender_id", "id"),  # GET /me/held
    sa.Index("uq_held_messages_client", "room_id", "sender_id", "client_msg_id", unique=True),
)

# -- moderation (issue 11) ---------------------------------------------------------------------------
# Every moderation and administration action, written in the transaction of the action itself.
# Read newest first by id: a room's entries (ix_audit_log_room), an actor's (ix_audit_log_actor), or all.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("actor_id", sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True),
    sa.Column("target_id", sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("data", sa.Text, nullable=True),  # JSON: what else the action needs told (a role, a count)
    sa.Index("ix_audit_log_room", "room_id", "id"),
    sa.Index("ix_audit_log_actor", "actor_id", "id"),
    sa.Index("ix_audit_log_target", "target_id", "id"),  # GET /me/held: my held messages rejected lately
)

# A ban keeps a user out of a room (no join, no invite) until `until` (ms; null: for good). An
# expired row simply stops counting: nothing sweeps it, the next ban of the same user replaces it.
room_bans = sa.Table(
    "room_bans",
    metadata,
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("by", sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("until", sa.BigInteger, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# -- server administration (issue 11) ---------------------------------------------------------------
# Server-wide settings an admin changes at run time, read by every node (`registration`: the
# registration mode; no row: PARLEY_REGISTRATION).
server_settings = sa.Table(
    "server_settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

# Invite codes for the `invite` registration mode. `used` only grows, by a conditional UPDATE
# (`used < uses` and unexpired) in the registration's transaction, so no code admits more than `uses`.
invites = sa.Table(
    "invites",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("uses", sa.Integer, nullable=False),
    sa.Column("used", sa.Integer, nullable=False, server_default="0"),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_invites_created_at", "created_at"),
)

# -- customer service and the assistant (issue 12) ----------------------------------------------------
# Which accounts are the assistant ("assistant") or a widget visitor ("guest"): both are ordinary
# users rows, so every service treats them as users; the web layer confines a guest's session.
support_accounts = sa.Table(
    "support_accounts",
    metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# A room whose members are the agents of a support desk; its knowledge base and conversations.
support_rooms = sa.Table(
    "support_rooms",
    metadata,
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    sa.Column("greeting", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

support_entries = sa.Table(
    "support_entries",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("room_id", sa.ForeignKey("support_rooms.room_id", ondelete="CASCADE"), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("tags", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_support_entries_room", "room_id", "id"),
)

# One private room per visitor (guest); the assistant owns it, agents join it when they take it.
support_conversations = sa.Table(
    "support_conversations",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("support_room_id", sa.ForeignKey("support_rooms.room_id", ondelete="CASCADE"), nullable=False),
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, unique=True),
    sa.Column("guest_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, unique=True),
    sa.Column("state", sa.String(16), nullable=False),  # bot | waiting | taken | resolved
    sa.Column("agent_id", sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("last_text", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_support_conversations_queue", "support_room_id", "state", "id"),
)

# -- bots and webhooks (issue 12) ---------------------------------------------------------------------
# Outgoing webhooks of a bot: `events` is a JSON list of "message", "mention", "direct"; `rooms` a
# JSON list of room ids (null: every room the bot is in). The secret signs each delivery.
bot_webhooks = sa.Table(
    "bot_webhooks",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("bot_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("events", sa.Text, nullable=False),
    sa.Column("rooms", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# The durable cursor of the webhook dispatcher over each room's log: events above `seq` are still to
# be matched against the webhooks of the room's bots. A row exists for each room a bot is in.
webhook_cursors = sa.Table(
    "webhook_cursors",
    metadata,
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

# The delivery queue and log: pending rows are attempted at `next_at` (a lease moves it forward
# while an attempt runs), with exponential back-off; done and failed rows are the owner's log.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.ForeignKey("bot_webhooks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("room_id", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_at", sa.BigInteger, nullable=False),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(300), nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("webhook_id", "room_id", "seq", name="uq_webhook_deliveries_event"),
    sa.Index("ix_webhook_deliveries_due", "state", "next_at"),
)

# Incoming webhooks: POST /api/v1/hooks/{id}/{secret} posts as the bot in `room_id`. Only the
# secret's SHA-256 is kept.
bot_hooks = sa.Table(
    "bot_hooks",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("bot_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# Slash commands a bot registers: `/name args` in a room the bot is in goes to it.
bot_commands = sa.Table(
    "bot_commands",
    metadata,
    sa.Column("bot_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("description", sa.String(200), nullable=False, server_default=""),
    sa.Column("usage", sa.String(100), nullable=False, server_default=""),
)

# -- the event stream for other systems (issue 12) ---------------------------------------------------
# How far each room's log has been published and confirmed by the export destination: the durable
# cursor of the outbox (the events table is the outbox). Only the node holding `export_lease` moves it.
export_cursors = sa.Table(
    "export_cursors",
    metadata,
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

# One row (id 1): the node that exports, until when (ms); another node takes over once it expired.
export_lease = sa.Table(
    "export_lease",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("until", sa.BigInteger, nullable=False),
)

# -- calls (issue 13) --------------------------------------------------------------------------------
# A call in a room; running while `ended_at` is null (one per room at a time: the room's row lock
# decides). `answered_at`: when someone besides the caller first joined (a call's duration runs from it).
calls = sa.Table(
    "calls",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("room_id", sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("started_by", sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("answered_at", sa.BigInteger, nullable=True),
    sa.Column("ended_at", sa.BigInteger, nullable=True),
    sa.Column("video", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Index("ix_calls_room", "room_id", "ended_at"),
)

# One participant connection of a call (a user may join from several tabs). Live while `left_at` is
# null; each node refreshes `seen_at` of the participants connected to it, so a node that dies takes
# its participants out of their calls after PARLEY_CALL_TIMEOUT_S (any node's sweep).
call_peers = sa.Table(
    "call_peers",
    metadata,
    sa.Column("peer", sa.String(32), primary_key=True),
    sa.Column("call_id", sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("joined_at", sa.BigInteger, nullable=False),
    sa.Column("seen_at", sa.BigInteger, nullable=False),
    sa.Column("left_at", sa.BigInteger, nullable=True),
    sa.Index("ix_call_peers_call", "call_id", "left_at"),
    sa.Index("ix_call_peers_seen", "left_at", "seen_at"),
)
