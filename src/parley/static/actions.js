// What a person can do, as functions the views call: each talks to the server and updates the store.
import { api } from './api.js';
import { notePage } from './messages.js';
import { discard, queue, retry } from './pending.js';
import { markRead } from './reads.js';
import { emit, rememberUser, removeRoom, store, timeline, updateUser, upsertRoom } from './state.js';
import { sendFrame } from './ws.js';

const PAGE_SIZE = 50;
const TYPING_EVERY_MS = 3000;
const lastTyping = new Map();

/** Makes `roomId` the room on screen: loads its latest page once, then marks it read. */
export async function openRoom(roomId) {
  store.currentRoom = roomId;
  const line = timeline(roomId);
  if (!line.loaded) await loadLatest(roomId);
  if (store.currentRoom === roomId) markRead(roomId);
}

export function closeRoom(roomId) {
  if (store.currentRoom === roomId) store.currentRoom = null;
}

async function loadLatest(roomId) {
  const line = timeline(roomId);
  if (line.loading) return;
  line.loading = true;
  try {
    const page = await api.messages(roomId, { limit: PAGE_SIZE });
    notePage(roomId, page);
    line.add(page.messages);
    line.hasMore = page.has_more;
    line.loaded = true;
    const room = store.rooms.get(roomId);
    const first = page.messages[0]?.seq ?? Infinity;
    if (room && first <= room.cursor + 1) room.cursor = Math.max(room.cursor, line.lastSeq);
  } finally {
    line.loading = false;
  }
  emit('timeline', { roomId, change: { kind: 'reset' } });
}

/** Fetches the page before the oldest event held; resolves when it is merged. */
export async function loadOlder(roomId) {
  const line = timeline(roomId);
  if (line.loading || !line.hasMore || !line.loaded) return;
  line.loading = true;
  emit('timeline', { roomId, change: { kind: 'loading' } });
  let change = null;
  try {
    const page = await api.messages(roomId, { before: line.events[0]?.seq, limit: PAGE_SIZE });
    notePage(roomId, page);
    change = line.add(page.messages);
    line.hasMore = page.has_more;
  } finally {
    line.loading = false;
    emit('timeline', { roomId, change: change ?? { kind: 'loading' } });
  }
}

/**
 * Shows the message at once as pending and sends it (now, or after the next reconnect).
 * `extra`: more fields of the send frame (`reply_to`, `thread_root`, issue 10); `attachments`:
 * stored upload objects (issue 9); with them the text may be empty (a caption).
 */
export function sendMessage(roomId, text, extra = {}, attachments = []) {
  if (!text.trim() && !attachments.length) return;
  lastTyping.delete(roomId);
  queue(roomId, attachments.length && !text.trim() ? '' : text, extra, attachments);
}

export const retryMessage = retry;
export const discardMessage = discard;

/** Tells the room I am typing, at most every few seconds. */
export function typing(roomId) {
  const now = Date.now();
  if (now - (lastTyping.get(roomId) ?? 0) < TYPING_EVERY_MS) return;
  if (sendFrame({ type: 'typing', room: roomId })) lastTyping.set(roomId, now);
}

export async function loadMembers(roomId) {
  const { members } = await api.members(roomId);
  for (const member of members) {
    rememberUser(member.user);
    if (member.user.id !== store.me.id) store.presence.set(member.user.id, member.online);
  }
  store.members.set(roomId, members);
  emit('members', roomId);
}

function addRoom(data) {
  const room = upsertRoom(data);
  emit('rooms');
  return room;
}

export async function createRoom({ name, topic, visibility }) {
  return addRoom(await api.createRoom(name, topic, visibility));
}

export async function joinRoom(roomId) {
  return addRoom(await api.join(roomId));
}

export async function leaveRoom(roomId) {
  await api.leave(roomId);
  removeRoom(roomId);
  emit('rooms');
  emit('room-removed', roomId);
}

export async function startDirect(usernames) {
  return addRoom(await api.direct(usernames));
}

export async function invite(roomId, usernames) {
  const { invited } = await api.invite(roomId, usernames);
  store.members.delete(roomId);
  emit('members', roomId);
  return invited;
}

export async function updateRoom(roomId, changes) {
  const room = addRoom(await api.updateRoom(roomId, changes));
  emit('room', roomId);
  return room;
}

/** Gives `userId` a role; `owner` hands the room over (I become admin). */
export async function setRole(roomId, userId, role) {
  const member = await api.setRole(roomId, userId, role);
  store.members.delete(roomId);
  emit('members', roomId);
  return member;
}

/** Changes my profile: {display_name, status} (what the server takes); others see it live. */
export async function updateProfile(changes) {
  const user = await api.updateMe(changes);
  updateUser(user);
  return user;
}

export async function changePassword(current, next) {
  await api.changePassword(current, next);
}

export async function searchUsers(q) {
  const { users } = await api.searchUsers(q);
  return users.filter((user) => user.id !== store.me.id);
}

export async function publicRooms(q) {
  const { rooms } = await api.publicRooms(q);
  return rooms;
}
