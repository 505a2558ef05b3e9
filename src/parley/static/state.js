// The client's memory: who I am, my rooms, each room's timeline, presence and typing, plus a tiny
// publish/subscribe so views redraw only what changed. Nothing here talks to the network.

const listeners = new Map();

/** Subscribes to a topic; returns the function that unsubscribes. */
export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic).delete(fn);
}

export function emit(topic, detail) {
  for (const fn of [...(listeners.get(topic) ?? [])]) fn(detail);
}

/** Modules loaded on first use register their hooks here, for the views that must not load them
 * (jump.js: a view asks for a pending jump only once some jump has loaded it). */
export const loaded = {};

export const store = {
  me: null,
  rooms: new Map(),
  timelines: new Map(),
  users: new Map(),
  presence: new Map(),
  typing: new Map(),
  members: new Map(),
  drafts: new Map(),
  // message actions (issue 10, messages.js): messages held outside timelines, recent changes, pins, replies
  heldMessages: new Map(),
  recentChanges: new Map(),
  pins: new Map(),
  replying: new Map(),
  connection: 'connecting',
  currentRoom: null,
};

export function resetStore() {
  for (const key of ['rooms', 'timelines', 'users', 'presence', 'typing', 'members', 'drafts',
    'heldMessages', 'recentChanges', 'pins', 'replying']) store[key].clear();
  Object.assign(store, { me: null, connection: 'connecting', currentRoom: null });
}

/** Adds or refreshes a room from a server room object; keeps the client's own counters. */
export function upsertRoom(data) {
  const known = store.rooms.get(data.id);
  const room = { mention: false, cursor: 0, ...known, ...data };
  room.cursor = Math.max(known?.cursor ?? 0, data.last_seq ?? 0);
  room.unread = data.unread ?? known?.unread ?? 0;
  // The server counts unread messages that mention me; live ones are found by sync.js.
  if (typeof data.mentions === 'number') room.mention = data.mentions > 0;
  for (const user of data.members ?? []) rememberUser(user);
  store.rooms.set(room.id, room);
  return room;
}

export function removeRoom(id) {
  store.rooms.delete(id);
  store.timelines.delete(id);
  store.members.delete(id);
  store.typing.delete(id);
}

export function rememberUser(user) {
  if (user?.id !== undefined) store.users.set(user.id, { ...store.users.get(user.id), ...user });
}

/** The freshest copy of a person the client holds (names change: see `user_updated`). */
export function currentUser(user) {
  return (user?.id !== undefined && store.users.get(user.id)) || user;
}

/** Someone changed their name: every place that shows it reads store.users, then redraws on 'user'. */
export function updateUser(user) {
  rememberUser(user);
  if (user.id === store.me?.id) Object.assign(store.me, user);
  for (const room of store.rooms.values()) {
    for (const member of room.members ?? []) if (member.id === user.id) Object.assign(member, user);
  }
  emit('user', user.id);
}

/** Someone stopped typing: their notice timed out, or their message arrived. */
export function stopTyping(roomId, userId) {
  const typers = store.typing.get(roomId);
  if (!typers?.has(userId)) return;
  clearTimeout(typers.get(userId).timer);
  typers.delete(userId);
  emit('typing', roomId);
}

/** Did I block this person? */
export function isBlocked(id) {
  return !!store.me?.blocked?.includes(id);
}

export function displayName(user) {
  user = currentUser(user);
  return user?.display_name || user?.username || '?';
}

/** Direct chats are titled by their other participants. */
export function roomTitle(room) {
  if (room.kind !== 'direct') return room.name;
  const others = (room.members ?? []).filter((user) => user.id !== store.me?.id);
  return others.map(displayName).join(', ');
}

const ROLE_RANK = { member: 10, moderator: 20, admin: 30, owner: 40 };

export function roleAtLeast(room, role) {
  return (ROLE_RANK[room?.my_role] ?? 0) >= ROLE_RANK[role];
}

/** Members invite to public rooms, moderators and up to private ones (core/permissions.py). */
export function canInvite(room) {
  if (room?.kind !== 'room' || room.my_state !== 'joined' || room.archived) return false;
  return roleAtLeast(room, room.visibility === 'private' ? 'moderator' : 'member');
}

/** Moderation: whether I have queues to see (sync.js keeps their ids). */
export function moderatesAny() {
  return store.me?.is_admin || [...store.rooms.values()].some((room) => room.my_state === 'joined' && roleAtLeast(room, 'moderator'));
}

export const queues = { reports: new Set(), held: new Set() };

export function totalUnread() {
  let total = 0;
  for (const room of store.rooms.values()) if (room.my_state === 'joined') total += room.unread ?? 0;
  return total;
}

/**
 * One room's events as far as the client holds them: a run of consecutive seqs, oldest first,
 * plus my messages still waiting for their ack (`pending`). `hasMore` says whether older ones exist.
 */
class Timeline {
  constructor() {
    this.events = [];
    this.seqs = new Set();
    this.pending = [];
    this.hasMore = true;
    this.loaded = false;
    this.loading = false;
    // search (jump.js): a page around an older message replaced the run; newer ones are fetched
    // page by page (live events that do not follow on are left to that catch-up).
    this.newerMissing = false;
  }

  /** search (jump.js): start again from one page of consecutive events. */
  replaceWith(events, hasMore, newerMissing) {
    this.events = [...events].sort((a, b) => a.seq - b.seq);
    this.seqs = new Set(this.events.map((event) => event.seq));
    this.hasMore = hasMore;
    this.newerMissing = newerMissing;
    this.loaded = true;
  }

  get lastSeq() {
    return this.events.at(-1)?.seq ?? 0;
  }

  /** Merges events, dropping ones already held; says how the list changed, or null if it did not. */
  add(events) {
    const fresh = events.filter((event) => !this.seqs.has(event.seq)).sort((a, b) => a.seq - b.seq);
    if (!fresh.length) return null;
    if (this.newerMissing && fresh[0].seq > this.lastSeq + 1) return null; // Search: not yet caught up
    for (const event of fresh) this.seqs.add(event.seq);
    const first = this.events[0]?.seq ?? Infinity;
    if (fresh[0].seq > this.lastSeq) {
      this.events.push(...fresh);
      return { kind: 'append', count: fresh.length };
    }
    if (fresh.at(-1).seq < first) {
      this.events.unshift(...fresh);
      return { kind: 'prepend', count: fresh.length };
    }
    this.events = [...this.events, ...fresh].sort((a, b) => a.seq - b.seq);
    return { kind: 'reset' };
  }
}

export function timeline(roomId) {
  if (!store.timelines.has(roomId)) store.timelines.set(roomId, new Timeline());
  return store.timelines.get(roomId);
}
