// Keeps the store in step with the server over the WebSocket: resumes after every (re)connect,
// merges events without duplicates, counts unread messages and mentions, settles my pending
// messages on ack, and moves read markers.
import { api } from './api.js';
import { t } from './i18n.js';
import { mentions } from './markdown.js';
import { notify } from './notify.js';
import { personLabel, roomLabel } from './people.js';
import { emit, rememberUser, removeRoom, store, timeline, upsertRoom } from './state.js';
import { Connection } from './ws.js';

const TYPING_SHOWN_MS = 6000;
const READ_DELAY_MS = 400;
let connection = null;
const fetching = new Map();
const readTimers = new Map();

export function startSync() {
  connection = new Connection({
    onFrame: handleFrame,
    onStatus: (status) => {
      store.connection = status;
      store.presence.set(store.me.id, status === 'connected');
      emit('connection', status);
      emit('presence', store.me.id);
    },
    onRevoked: () => emit('signed-out'),
  });
  connection.start();
}

export function stopSync() {
  connection?.stop();
  connection = null;
  for (const timer of readTimers.values()) clearTimeout(timer);
  readTimers.clear();
}

export function sendFrame(frame) {
  return connection?.send(frame) ?? false;
}

/** Sends a pending message (again); the server answers a repeated client_msg_id with the original ack. */
export function transmit(roomId, pending) {
  return sendFrame({ type: 'send', room: roomId, text: pending.text, client_msg_id: pending.cid, ref: pending.cid });
}

const HANDLERS = {
  hello: onHello,
  ack: onAck,
  error: onError,
  invited: onInvited,
  typing: onTyping,
  presence: onPresence,
  read: onRead,
  user_updated: ({ user }) => rememberUser(user),
};

/**
 * One reducer per room event type, the client's one list of them (tests/unit/test_registry.py
 * checks it against the server's registry): (room, event, fresh), where `fresh` is false for an
 * event at or below the room's cursor.
 */
export const REDUCERS = {
  room_created: () => {},
  message: onMessage,
  member_joined: whenFresh(onRoomChange),
  member_left: whenFresh(onRoomChange),
  member_invited: whenFresh(onRoomChange),
  member_updated: whenFresh(onRoomChange),
  room_updated: whenFresh(onRoomChange),
};

function whenFresh(reducer) {
  return (room, event, fresh) => fresh && reducer(room, event);
}

function handleFrame(frame) {
  const handler = HANDLERS[frame.type] ?? (frame.type in REDUCERS ? onEvent : null);
  handler?.(frame);
}

/** After (re)connecting: ask for everything after my cursors, resend what was never acked. */
function onHello({ rooms }) {
  const cursors = {};
  for (const room of store.rooms.values()) {
    if (room.my_state === 'joined' && String(room.id) in rooms) cursors[room.id] = room.cursor;
  }
  const unknown = Object.keys(rooms).map(Number).filter((id) => !store.rooms.has(id));
  for (const id of unknown) cursors[id] = rooms[id];
  sendFrame({ type: 'resume', cursors });
  for (const [roomId, line] of store.timelines) {
    for (const pending of line.pending) if (pending.status === 'pending') transmit(roomId, pending);
  }
  for (const id of unknown) fetchRoom(id);
}

/**
 * A room I hear about for the first time (joined elsewhere, or a new direct chat). Its events that
 * arrive meanwhile are held, then applied once the room is known (those it already counts are not
 * counted twice).
 */
async function fetchRoom(id, event) {
  if (fetching.has(id)) {
    if (event) fetching.get(id).push(event);
    return;
  }
  const held = event ? [event] : [];
  fetching.set(id, held);
  try {
    const room = await api.room(id);
    if (room.my_state !== 'joined' && room.my_state !== 'invited') return;
    upsertRoom(room);
    held.forEach(onEvent);
    emit('rooms');
  } catch {
    // Not visible to me (any more): nothing to show.
  } finally {
    fetching.delete(id);
  }
}

function onEvent(event) {
  const room = store.rooms.get(event.room);
  if (!room) {
    fetchRoom(event.room, event);
    return;
  }
  rememberUser(event.sender);
  rememberUser(event.user);
  const change = timeline(room.id).add([event]);
  const fresh = event.seq > room.cursor;
  if (fresh) {
    room.cursor = event.seq;
    room.last_seq = Math.max(room.last_seq ?? 0, event.seq);
  }
  REDUCERS[event.type](room, event, fresh);
  if (change) emit('timeline', { roomId: room.id, change });
  emit('rooms');
}

function onMessage(room, event, fresh) {
  const mine = event.sender?.id === store.me.id;
  stopTyping(room.id, event.sender?.id);
  if (mine) settlePending(room.id, event.client_msg_id);
  if (!fresh || mine) return;
  if (isViewing(room.id)) {
    markRead(room.id, { delay: READ_DELAY_MS });
    return;
  }
  room.unread = (room.unread ?? 0) + 1;
  const mentioned = mentions(event.text, store.me.username);
  room.mention ||= mentioned;
  if (mentioned || room.kind === 'direct') {
    const title = room.kind === 'direct'
      ? personLabel(event.sender)
      : t('notify.mention', { user: personLabel(event.sender), room: roomLabel(room) });
    notify(title, event.text, room.id);
  }
}

function onRoomChange(room, event) {
  if (event.type === 'room_updated') {
    Object.assign(room, event.changes);
    emit('room', room.id);
    return;
  }
  store.members.delete(room.id);
  emit('members', room.id);
  if (event.type === 'member_updated' && event.user?.id === store.me.id) {
    room.my_role = event.role;
    emit('room', room.id);
  }
  if (event.type === 'member_joined') room.member_count = (room.member_count ?? 0) + 1;
  if (event.type === 'member_left') {
    room.member_count = Math.max(0, (room.member_count ?? 1) - 1);
    if (event.user?.id === store.me.id) {
      removeRoom(room.id);
      emit('room-removed', room.id);
    }
  }
}

function isViewing(roomId) {
  return store.currentRoom === roomId && document.visibilityState === 'visible';
}

/** Marks a room read up to the newest event I hold: over the socket, or REST when it is down. */
export function markRead(roomId, { delay = 0 } = {}) {
  const room = store.rooms.get(roomId);
  if (!room || room.my_state !== 'joined') return;
  if (room.unread || room.mention) {
    room.unread = 0;
    room.mention = false;
    emit('rooms');
  }
  clearTimeout(readTimers.get(roomId));
  readTimers.set(roomId, setTimeout(() => sendRead(room), delay));
}

function sendRead(room) {
  readTimers.delete(room.id);
  const seq = Math.max(room.cursor, store.timelines.get(room.id)?.lastSeq ?? 0);
  if (seq <= (room.read_seq ?? 0)) return;
  room.read_seq = seq;
  if (!sendFrame({ type: 'read', room: room.id, seq })) api.markRead(room.id, seq).catch(() => {});
}

function findPending(roomId, cid) {
  const line = store.timelines.get(roomId);
  return line?.pending.find((pending) => pending.cid === cid);
}

function settlePending(roomId, cid) {
  const line = store.timelines.get(roomId);
  if (!cid || !line) return;
  const before = line.pending.length;
  line.pending = line.pending.filter((pending) => pending.cid !== cid);
  if (line.pending.length !== before) emit('pending', roomId);
}

function onAck({ room, client_msg_id: cid, seq, ts }) {
  const pending = findPending(room, cid);
  if (!pending) return;
  if (store.timelines.get(room).seqs.has(seq)) {
    settlePending(room, cid);
    return;
  }
  Object.assign(pending, { status: 'sent', seq, ts });
  emit('pending', room);
}

function onError({ code, ref }) {
  for (const [roomId, line] of store.timelines) {
    const pending = line.pending.find((item) => item.cid === ref);
    if (pending) {
      Object.assign(pending, { status: 'failed', error: code });
      emit('pending', roomId);
      return;
    }
  }
  emit('notice', { code });
}

function onInvited({ room }) {
  upsertRoom({ my_state: 'invited', ...room });
  emit('rooms');
}

function onTyping({ room, user }) {
  const who = typeof user === 'object' ? user : store.users.get(user);
  if (!who || who.id === store.me.id || !store.rooms.has(room)) return;
  rememberUser(who);
  if (!store.typing.has(room)) store.typing.set(room, new Map());
  const typers = store.typing.get(room);
  clearTimeout(typers.get(who.id)?.timer);
  const timer = setTimeout(() => stopTyping(room, who.id), TYPING_SHOWN_MS);
  typers.set(who.id, { user: who, timer });
  emit('typing', room);
}

/** Someone stopped typing: their notice timed out, or their message arrived. */
function stopTyping(roomId, userId) {
  const typers = store.typing.get(roomId);
  if (!typers?.has(userId)) return;
  clearTimeout(typers.get(userId).timer);
  typers.delete(userId);
  emit('typing', roomId);
}

function onPresence({ user, online }) {
  store.presence.set(user, online);
  emit('presence', user);
}

function onRead({ room: roomId, user, seq }) {
  const room = store.rooms.get(roomId);
  if (!room || user !== store.me.id) return;
  room.read_seq = Math.max(room.read_seq ?? 0, seq);
  if (room.read_seq >= room.cursor && (room.unread || room.mention)) {
    room.unread = 0;
    room.mention = false;
    emit('rooms');
  }
}
