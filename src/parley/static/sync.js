// Keeps the store in step with the server over the WebSocket: resumes after every (re)connect and
// routes each frame. Room events go to their reducer (reducers.js), my messages' acks and errors
// to pending.js, read markers to reads.js.
import { api } from './api.js';
import { acked, heldResolved, refused, resendAll } from './pending.js';
import { applyRead, cancelReads } from './reads.js';
import { applyEvent, REDUCERS } from './reducers.js';
import { emit, moderatesAny, queues, rememberUser, removeRoom, stopTyping, store, updateUser, upsertRoom } from './state.js';
import { Connection, sendFrame } from './ws.js';

const TYPING_SHOWN_MS = 6000;
let connection = null;
const fetching = new Map();

export function startSync() {
  connection = new Connection({
    onFrame: handleFrame,
    onStatus: (status) => {
      store.connection = status;
      store.presence.set(store.me.id, status === 'connected');
      emit('connection', status);
      emit('presence', store.me.id);
    },
    // A password change revokes this socket's session but leaves a new cookie: reconnect with it.
    onRevoked: () => api.me().then(() => { stopSync(); startSync(); }, () => emit('signed-out')),
    resumeFrom,
  });
  connection.start();
}

export function stopSync() {
  connection?.stop();
  connection = null;
  cancelReads();
}

/** Frames that are not room events. */
const HANDLERS = {
  hello: onHello,
  ack: acked,
  error: onError,
  invited: onInvited,
  typing: onTyping,
  presence: onPresence,
  read: applyRead,
  user_updated: ({ user }) => updateUser(user),
  done: () => {}, // an edit/delete/react frame carried out: its event arrives like any other
  // Reports and held messages, to the moderators (held_resolved also to the sender)
  report_added: onQueue,
  report_resolved: onQueue,
  held_added: onQueue,
  held_resolved: onQueue,
  call_joined: onCall, // calls (issue 13): views/call.js
  call_state: onCall,
  call_signal: onCall,
};

function onCall(frame) {
  return import('./views/call.js').then((m) => m.onFrame(frame));
}

function onQueue(frame) {
  const { type, report, held, id } = frame;
  const ids = queues[type[0] === 'r' ? 'reports' : 'held'];
  if (type.endsWith('added')) ids.add((report ?? held).id);
  else ids.delete(report?.id ?? id);
  if (type === 'held_resolved') heldResolved(frame);
  emit('queue', frame);
}

/** After each (re)connect (frames are not replayed): the open queues, for the badge. */
async function loadQueues() {
  for (const kind of moderatesAny() ? ['reports', 'held'] : []) {
    const answer = await api.call('GET', kind === 'held' ? '/held' : '/reports?state=open').catch(() => null);
    if (answer) queues[kind] = new Set(answer[kind].map((item) => item.id));
    emit('queue', {});
  }
}

function handleFrame(frame) {
  const handler = HANDLERS[frame.type] ?? (frame.type in REDUCERS ? onEvent : null);
  handler?.(frame);
}

// Cursors in the URL's text form (`room.seq-room.seq`), kept under what any proxy lets through.
const MAX_RESUME_QUERY = 7000;

/** Reconnecting: my cursors for `?resume=`, so the server replays what I missed before anything live. */
function resumeFrom() {
  const parts = [];
  for (const room of store.rooms.values()) {
    if (room.my_state === 'joined' && room.cursor > 0) parts.push(`${room.id}.${room.cursor}`);
  }
  const query = parts.join('-');
  return query.length <= MAX_RESUME_QUERY ? query : '';
}

/** After (re)connecting: ask for everything after my cursors, resend what was never acked. */
function onHello({ rooms, user }) {
  if (user) updateUser({ id: user.id, username: user.username, display_name: user.display_name });
  if (user && store.me) store.me.is_admin = user.is_admin;
  const unknown = Object.keys(rooms).map(Number).filter((id) => !store.rooms.has(id));
  if (!connection?.resuming) {
    const cursors = {};
    for (const room of store.rooms.values()) {
      if (room.my_state === 'joined' && String(room.id) in rooms) cursors[room.id] = room.cursor;
    }
    for (const id of unknown) cursors[id] = rooms[id];
    sendFrame({ type: 'resume', cursors });
  }
  resendAll(store.timelines);
  for (const id of unknown) fetchRoom(id);
  loadQueues();
  api.call('GET', '/me/held').then(({ held, rejected }) => (held.length || document.querySelector('.msg.held'))
    && import('./held.js').then((m) => m.restoreHeld(held, rejected)), () => {}); // mine, held for review
}

/** A room new to me (joined elsewhere, a new direct chat): its events wait until it is known. */
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
  if (store.rooms.get(event.room)?.my_state === 'removed') removeRoom(event.room); // back after a kick: afresh
  const room = store.rooms.get(event.room);
  if (room) applyEvent(room, event);
  else fetchRoom(event.room, event);
}

function onError(frame) {
  if (String(frame.ref).startsWith('call-')) return onCall(frame);
  if (!refused(store.timelines, frame)) emit('notice', { code: frame.code });
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

function onPresence(f) {
  const b = f.changes ?? [f];
  for (const c of b) store.presence.set(c.user, c.online);
  emit('presence', b.map((c) => c.user));
}
