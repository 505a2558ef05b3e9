// Read markers: opening a room, or reading new messages in it, moves my marker on the server so
// unread counts agree after a reload; another tab of mine moving it clears the counts here.
import { api } from './api.js';
import { emit, store } from './state.js';
import { sendFrame } from './ws.js';

const timers = new Map();

/** Marks a room read up to the newest event I hold: over the socket, or REST when it is down. */
export function markRead(roomId, { delay = 0 } = {}) {
  const room = store.rooms.get(roomId);
  if (!room || room.my_state !== 'joined') return;
  if (room.unread || room.mention) {
    room.unread = 0;
    room.mention = false;
    emit('rooms');
  }
  // What is on screen now: a message arriving before the delayed send (I may have left the room
  // by then) stays unread, with its mention.
  const seq = Math.max(room.cursor, store.timelines.get(roomId)?.lastSeq ?? 0);
  clearTimeout(timers.get(roomId));
  timers.set(roomId, setTimeout(() => sendRead(room, seq), delay));
}

function sendRead(room, seq) {
  timers.delete(room.id);
  if (seq <= (room.read_seq ?? 0)) return;
  room.read_seq = seq;
  if (!sendFrame({ type: 'read', room: room.id, seq })) api.markRead(room.id, seq).catch(() => {});
}

/** A `read` frame: my marker moved (in this tab or another). */
export function applyRead({ room: roomId, user, seq }) {
  const room = store.rooms.get(roomId);
  if (!room || user !== store.me.id) return;
  room.read_seq = Math.max(room.read_seq ?? 0, seq);
  if (room.read_seq >= room.cursor && (room.unread || room.mention)) {
    room.unread = 0;
    room.mention = false;
    emit('rooms');
  }
}

export function cancelReads() {
  for (const timer of timers.values()) clearTimeout(timer);
  timers.clear();
}
