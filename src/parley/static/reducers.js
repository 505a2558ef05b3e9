// One reducer per room event type: each applies its event to the store and emits the topics the
// views listen to. This table is the client's one list of event types: sync.js routes every
// frame whose type is a key here to applyEvent, and views/timeline.js renders the same keys
// (SYSTEM_LINES, plus `message`). A new event type gets a reducer here, a line there, and its
// strings (`event.<type>`) in every locale.
import { mentions } from './markdown.js';
import { applyAnnotation, applyPurge, noteMessage } from './messages.js';
import { notifyMessage } from './notify.js';
import { settle } from './pending.js';
import { markRead } from './reads.js';
import { emit, isBlocked, rememberUser, removeRoom, stopTyping, store, timeline } from './state.js';

const READ_DELAY_MS = 400;

export const REDUCERS = {
  room_created: () => {},
  message: applyMessage,
  member_joined: fresh((room) => {
    room.member_count = (room.member_count ?? 0) + 1;
    membersChanged(room);
  }),
  member_left: fresh(removed),
  member_invited: fresh((room) => membersChanged(room)),
  member_updated: fresh((room, event) => {
    const members = store.members.get(room.id);
    const member = members?.find((item) => item.user.id === event.user?.id);
    if (member) member.role = event.role;
    else store.members.delete(room.id);
    emit('members', room.id);
    if (event.user?.id === store.me.id) {
      room.my_role = event.role;
      emit('room', room.id);
    }
  }),
  room_updated: fresh((room, event) => {
    Object.assign(room, event.changes);
    emit('room', room.id);
  }),
  // -- message actions: they change the message they name, see messages.js --
  message_edited: applyAnnotation,
  message_deleted: applyAnnotation,
  reaction_added: applyAnnotation,
  reaction_removed: applyAnnotation,
  message_pinned: applyAnnotation,
  message_unpinned: applyAnnotation,
  // -- moderation --
  member_kicked: fresh(sanctioned),
  member_banned: fresh(sanctioned),
  member_unbanned: fresh(sanctioned),
  member_muted: fresh(sanctioned),
  member_unmuted: fresh(sanctioned),
  history_purged: applyPurge,
  call_started: callEvent, // calls (issue 13): views/call.js
  call_ended: callEvent,
};

function callEvent(room, event, fresh) {
  if (fresh) import('./views/call.js').then((m) => m.onEvent(room, event));
}

function removed(room, event) {
  room.member_count = Math.max(0, (room.member_count ?? 1) - 1);
  if (event.user?.id !== store.me.id) return membersChanged(room);
  removeRoom(room.id);
  emit('room-removed', room.id);
}

/** Kicked or banned: the view stops and says why. */
function sanctioned(room, event) {
  const out = /kick|_ban/.test(event.type);
  if (out) room.member_count = Math.max(0, (room.member_count ?? 1) - 1);
  if (event.user?.id === store.me.id) {
    if (out) Object.assign(room, { my_state: 'removed', removal: event });
    if (/mute/.test(event.type)) room.my_muted_until = event.type === 'member_muted' ? event.until : null;
  }
  membersChanged(room);
  emit('room', room.id);
}

/** Room changes count once: a replayed event at or below the cursor was applied already. */
function fresh(reducer) {
  return (room, event, isFresh) => isFresh && reducer(room, event);
}

/** The member list is fetched again when a view wants it. */
function membersChanged(room) {
  store.members.delete(room.id);
  emit('members', room.id);
}

/** Applies one event of a known room: timeline, cursor, then its own reducer. */
export function applyEvent(room, event) {
  rememberUser(event.sender);
  // `user` in an event's data is a snapshot from when it happened; a name heard since wins.
  if (event.user && !store.users.has(event.user.id)) rememberUser(event.user);
  const change = timeline(room.id).add([event]);
  const isFresh = event.seq > room.cursor;
  if (isFresh) {
    room.cursor = event.seq;
    room.last_seq = Math.max(room.last_seq ?? 0, event.seq);
  }
  REDUCERS[event.type]?.(room, event, isFresh);
  if (change && store.rooms.has(room.id)) emit('timeline', { roomId: room.id, change });
  emit('rooms');
}

/**
 * Whether a message mentions me: the server lists the user ids it resolved in `mentions`. A server
 * that does not send the list yet is read by matching @username in the text.
 */
export function mentionsMe(event) {
  // issue 10: `@room`/`@here` from a moderator, and replies in a thread I took part in, count as mentions
  if (event.mentions_room || event.thread_participants?.includes(store.me.id)) return true;
  if (Array.isArray(event.mentions)) return event.mentions.includes(store.me.id);
  return mentions(event.text ?? '', store.me.username);
}

function applyMessage(room, event, isFresh) {
  const mine = event.sender?.id === store.me.id;
  const myThread = noteMessage(room, event, isFresh);
  stopTyping(room.id, event.sender?.id);
  if (mine) settle(room.id, event.client_msg_id);
  if (!isFresh || mine) return;
  if (store.currentRoom === room.id && document.visibilityState === 'visible') {
    markRead(room.id, { delay: READ_DELAY_MS });
    return;
  }
  room.unread = (room.unread ?? 0) + 1;
  if (isBlocked(event.sender?.id)) return; // No mention, no notification
  const mentioned = mentionsMe(event) || myThread;
  room.mention ||= mentioned;
  // A thread reply says so in its notification, unless it names me as well.
  notifyMessage(room, event, mentioned, myThread && !event.mentions?.includes(store.me.id) && !event.mentions_room);
}
