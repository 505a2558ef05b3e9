// My messages the spam filter holds for review, shown again after a reload or a reconnect (frames
// are not replayed): sync.js loads this module after a hello when GET /api/v1/me/held lists some,
// or when a copy on screen is still held.
import { emit, store, timeline } from './state.js';

/**
 * Each held message of mine becomes a pending copy with status `held` (its client_msg_id, so an
 * approval's event settles it, as pending.js does). A held copy the server no longer holds was
 * decided while away: rejected (listed in `rejected`) says "Not delivered", as a live rejection
 * does; approved (its event arrives, or has), it goes.
 */
export function restoreHeld(list, rejected = []) {
  const ids = new Set(list.map((held) => held.id));
  const refused = new Set(rejected);
  for (const [roomId, line] of store.timelines) {
    const before = line.pending.length;
    let changed = false;
    for (const pending of line.pending) {
      if (pending.status === 'held' && refused.has(pending.heldId)) [pending.status, changed] = ['rejected', true];
    }
    line.pending = line.pending.filter((pending) => pending.status !== 'held' || ids.has(pending.heldId));
    if (changed || line.pending.length !== before) emit('pending', roomId);
  }
  for (const held of list) {
    const line = timeline(held.room);
    if (line.pending.some((pending) => pending.heldId === held.id || pending.cid === held.client_msg_id)) continue;
    const extra = Object.fromEntries(['reply_to', 'thread_root'].filter((key) => held[key]).map((key) => [key, held[key]]));
    line.pending.push({ cid: held.client_msg_id ?? `held-${held.id}`, text: held.text, extra, attachments: [], ts: held.ts,
      status: 'held', heldId: held.id });
    emit('pending', held.room);
  }
}
