// Message actions in the store: edits, deletes, reactions, pins, replies and threads.
// A message is the `message` event the client holds; the events that change it later
// (`message_edited`, `message_deleted`, `reaction_added`, `reaction_removed`, `message_pinned`,
// `message_unpinned`) are applied to every copy held (timeline, thread panel, quotes, pins), and
// each change is told as the topic `message-changed` {roomId, seq}.
//
// Replays are harmless: each copy remembers the seq its state is current to (`asOf`: its own seq
// when it came live, the room's `last_seq` when it came in a history page, whose aggregates count
// everything up to there), and an event at or below it is skipped.
import { api } from './api.js';
import { emit, store, timeline } from './state.js';

/** Events that change a message rather than add a row to the timeline. */
export const ANNOTATIONS = new Set([
  'message_edited', 'message_deleted', 'reaction_added', 'reaction_removed', 'message_pinned', 'message_unpinned',
]);
const RECENT = 200;
const recent = store.recentChanges;
const extras = store.heldMessages;
const fetching = new Map();

/** The message an annotation is about (its own `seq` is its place in the log). */
export function targetOf(event) {
  return event.target;
}

function findInTimeline(roomId, seq) {
  const { events } = timeline(roomId);
  let lo = 0;
  let hi = events.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid].seq === seq) return events[mid];
    if (events[mid].seq < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return null;
}

/** The message `seq` of a room as the client holds it (timeline first), or null. */
export function findMessage(roomId, seq) {
  const found = findInTimeline(roomId, seq);
  return found?.type === 'message' ? found : extras.get(roomId)?.get(seq) ?? null;
}

export function copies(roomId, seq) {
  return [findInTimeline(roomId, seq), extras.get(roomId)?.get(seq)].filter((m) => m?.type === 'message');
}

/** Keeps messages held outside the timeline (thread replies, quoted originals, pins). */
export function holdMessages(roomId, messages, asOf) {
  if (!extras.has(roomId)) extras.set(roomId, new Map());
  const held = extras.get(roomId);
  for (const message of messages) {
    if (message?.type !== 'message') continue;
    message.asOf = Math.max(asOf ?? message.seq, message.asOf ?? 0);
    held.set(message.seq, message);
    replayRecent(roomId, message);
  }
}

/** A history page came in: its messages are current up to the room's last_seq when it was read. */
export function notePage(roomId, page) {
  for (const message of page.messages) {
    if (message.type !== 'message') continue;
    message.asOf = page.last_seq ?? message.seq;
    replayRecent(roomId, message);
  }
}

function replayRecent(roomId, message) {
  for (const event of recent.get(roomId) ?? []) {
    if (targetOf(event) === message.seq) change(message, event);
  }
}

/** Applies one annotation to one copy; says whether it changed it. */
function change(message, event) {
  if (event.seq <= (message.asOf ?? message.seq)) return false;
  message.asOf = event.seq;
  CHANGES[event.type]?.(message, event);
  return true;
}

const CHANGES = {
  message_edited: (message, event) => {
    message.text = event.text;
    message.edited_at = event.edited_at ?? event.ts;
    if (event.mentions) message.mentions = event.mentions;
    message.mentions_room = event.mentions_room;
  },
  message_deleted: (message) => {
    Object.assign(message, { text: '', mentions: [], attachments: [], reactions: [], deleted: true });
  },
  reaction_added: (message, event) => react(message, event, true),
  reaction_removed: (message, event) => react(message, event, false),
  message_pinned: (message) => { message.pinned = true; },
  message_unpinned: (message) => { message.pinned = false; },
};

function react(message, event, on) {
  const reactions = message.reactions ?? [];
  let item = reactions.find((r) => r.emoji === event.emoji);
  if (!item) {
    if (!on) return;
    item = { emoji: event.emoji, count: 0, me: false };
    reactions.push(item);
  }
  const who = event.sender ?? event.user;
  const mine = who?.id === store.me.id;
  item.count = Math.max(0, item.count + (on ? 1 : -1));
  if (mine) item.me = on;
  item.users = (item.users ?? []).filter((user) => user.id !== who?.id);
  if (on && who) item.users.push(who);
  message.reactions = reactions.filter((r) => r.count > 0);
}

/** The reducer of every annotation type: changes each copy held, or remembers it for a page to come. */
export function applyAnnotation(room, event) {
  const list = recent.get(room.id) ?? [];
  list.push(event);
  if (list.length > RECENT) list.shift();
  recent.set(room.id, list);
  const seq = targetOf(event);
  let changed = false;
  for (const message of copies(room.id, seq)) changed = change(message, event) || changed;
  if (event.type === 'message_pinned' || event.type === 'message_unpinned') emit('pins', room.id);
  if (changed) emit('message-changed', { roomId: room.id, seq });
}

/** Retention erased every message below `before_seq`: each copy held becomes a tombstone. */
export function applyPurge(room, event) {
  const held = [...timeline(room.id).events, ...(extras.get(room.id)?.values() ?? [])];
  for (const message of held) {
    if (message.type !== 'message' || message.seq >= event.before_seq || message.deleted) continue;
    CHANGES.message_deleted(message);
    emit('message-changed', { roomId: room.id, seq: message.seq });
  }
}

/**
 * A new message (live or replayed): a thread reply updates its root's summary, and tells the
 * thread panel. Returns whether it is a reply in a thread I take part in (for notifications).
 */
export function noteMessage(room, event, isFresh) {
  event.asOf ??= event.seq;
  const rootSeq = event.thread_root;
  if (!rootSeq) return false;
  holdMessages(room.id, [event]);
  const root = findMessage(room.id, rootSeq);
  if (root && isFresh && (root.thread?.last_seq ?? 0) < event.seq) {
    const count = (root.thread?.count ?? 0) + 1;
    root.thread = { count, last_seq: event.seq, last_ts: event.ts };
    emit('message-changed', { roomId: room.id, seq: rootSeq });
  }
  emit('thread', { roomId: room.id, root: rootSeq });
  return isFresh && event.sender?.id !== store.me.id && inThread(room.id, rootSeq, event);
}

/** Whether I wrote the root or a reply of this thread (the server lists who, or the client knows). */
function inThread(roomId, rootSeq, event) {
  const me = store.me.id;
  if (Array.isArray(event.thread_participants)) return event.thread_participants.includes(me);
  if (findMessage(roomId, rootSeq)?.sender?.id === me) return true;
  const held = [...timeline(roomId).events, ...(extras.get(roomId)?.values() ?? [])];
  return held.some((m) => m.thread_root === rootSeq && m.sender?.id === me);
}

/** Fetches one message I do not hold (a quoted original, say); resolves to it or null. */
export function fetchMessage(roomId, seq) {
  const held = findMessage(roomId, seq);
  if (held) return Promise.resolve(held);
  const key = `${roomId}.${seq}`;
  if (!fetching.has(key)) {
    fetching.set(key, api.messages(roomId, { after: seq - 1, limit: 1 }).then((page) => {
      const message = page.messages.find((m) => m.seq === seq && m.type === 'message') ?? null;
      if (message) holdMessages(roomId, [message], page.last_seq);
      return message;
    }, () => null).finally(() => fetching.delete(key)));
  }
  return fetching.get(key);
}

/** The replies of a thread, oldest first, as far as the client holds them. */
export function threadReplies(roomId, rootSeq) {
  const bySeq = new Map();
  for (const m of [...timeline(roomId).events, ...(extras.get(roomId)?.values() ?? [])]) {
    if (m.type === 'message' && m.thread_root === rootSeq) bySeq.set(m.seq, m);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * What a fetched copy is current to when the answer has no `last_seq`: the events the client
 * has received were stored before the answer was read, so they are in it.
 */
export function cursorOf(roomId) {
  return store.rooms.get(roomId)?.cursor;
}

/** Adds my reaction, or takes it back when I had it. */
export async function toggleReaction(roomId, seq, emoji) {
  const message = findMessage(roomId, seq);
  const mine = message?.reactions?.some((r) => r.emoji === emoji && r.me);
  await api.react(roomId, seq, emoji, !mine);
}

/** The room's pinned messages, newest pin first. */
export async function loadPins(roomId) {
  const answer = await api.pins(roomId);
  const pins = answer.pins.map((pin) => pin.message);
  holdMessages(roomId, pins, cursorOf(roomId));
  store.pins.set(roomId, pins.map((m) => m.seq));
  return pins;
}

// -- the reply being written --

const replying = store.replying;

/** The message my next message in this room answers (shown above the composer), or null. */
// A reply belongs to one composer: the room's (keyed by the room id) or a thread's (threadKey).
export const threadKey = (roomId, rootSeq) => `${roomId}/thread/${rootSeq}`;

export function replyTarget(key) {
  return replying.get(key) ?? null;
}

export function setReply(key, message) {
  if (message) replying.set(key, message);
  else replying.delete(key);
  emit('reply', key);
}

/** What the next message sent from that composer carries besides its text (and clears the reply). */
export function takeReply(key) {
  const target = replying.get(key);
  if (!target) return {};
  setReply(key, null);
  return { reply_to: target.seq };
}

/** My newest message in the room that is still there (Up-arrow edits it). */
export function lastOwnMessage(roomId, rootSeq = null) {
  const events = rootSeq ? threadReplies(roomId, rootSeq) : timeline(roomId).events;
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const m = events[i];
    if (m.type === 'message' && m.sender?.id === store.me.id && !m.deleted && (m.thread_root ?? null) === rootSeq) return m;
  }
  return null;
}
