// Jumping to a message in its room's context (search results, reply quotes): opens the room,
// loads the page around the message unless it is held already, then asks the room's timeline to
// scroll to it and highlight it briefly. Loaded with the first jump (not on the first screen).
import { api } from './api.js';
import { notePage } from './messages.js'; // message actions: what a page's messages are current to
import { emit, loaded, store, timeline } from './state.js';

const PAGE_SIZE = 50;
const NEWER_PAGE = 100;
// Where the next jump goes until the room's timeline takes it (the view may not exist yet).
let pending = null;

/** Opens room `roomId` and shows message `seq` in context. Resolves once it is held. */
export async function jumpTo(roomId, seq) {
  pending = { roomId, seq };
  const target = `#/room/${roomId}`;
  if (location.hash !== target) location.hash = target;
  await hold(roomId, seq);
  if (pending?.roomId === roomId && pending.seq === seq) emit('jump', { roomId, seq });
}

/** The jump waiting for this room's timeline, taken once (timeline.js asks when it shows). */
export function takeJump(roomId) {
  if (pending?.roomId !== roomId || !timeline(roomId).seqs.has(pending.seq)) return null;
  const { seq } = pending;
  pending = null;
  return seq;
}

async function hold(roomId, seq) {
  const line = timeline(roomId);
  if (line.seqs.has(seq)) return;
  const page = await api.messages(roomId, { around: seq, limit: PAGE_SIZE });
  notePage(roomId, page);
  const first = line.events[0]?.seq;
  const last = page.messages.at(-1)?.seq ?? 0;
  const joins = first !== undefined && last + 1 >= first && (page.messages[0]?.seq ?? 0) <= line.lastSeq + 1;
  if (line.loaded && joins) {
    line.add(page.messages); // joins what is held: one run still
    if (page.messages[0]?.seq < first) line.hasMore = page.has_more;
  } else {
    line.replaceWith(page.messages, page.has_more, page.has_more_after || (line.loaded && last < line.lastSeq));
  }
  emit('timeline', { roomId, change: { kind: 'jump' } });
}

/** Fetches the events after the newest one held, when a jump left newer ones out. */
export async function loadNewer(roomId) {
  const line = timeline(roomId);
  if (!line.newerMissing || line.loading) return;
  line.loading = true;
  let change = null;
  try {
    const page = await api.messages(roomId, { after: line.lastSeq, limit: NEWER_PAGE });
    notePage(roomId, page);
    change = line.add(page.messages);
    const room = store.rooms.get(roomId);
    line.newerMissing = page.has_more || (room?.cursor ?? 0) > line.lastSeq;
  } finally {
    line.loading = false;
  }
  emit('timeline', { roomId, change: change ?? { kind: 'loading' } });
}

/** Leaves a jumped-to page for the newest events. */
export async function backToLatest(roomId) {
  const line = timeline(roomId);
  const page = await api.messages(roomId, { limit: PAGE_SIZE });
  notePage(roomId, page);
  line.replaceWith(page.messages, page.has_more, false);
  emit('timeline', { roomId, change: { kind: 'reset' } });
}

loaded.jump = { takeJump, loadNewer, backToLatest };
