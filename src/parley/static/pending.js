// My messages on their way, from the composer to the room's log. Every message has a
// client_msg_id (`cid`) chosen here and goes through these states:
//
//   pending  shown at once as "sending"; transmitted now if connected, else after the next hello
//   sent     the server acked it (seq, ts known) but its event has not arrived yet
//   (gone)   its event arrived: the stored message replaces it
//   failed   the server refused it (error frame with ref = cid); Retry makes it pending again
//            with the same cid, Discard drops it
//
// Resending a cid the server has stored is harmless: it answers with the original ack.
import { emit, store, timeline } from './state.js';
import { sendFrame } from './ws.js';

function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `c-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function transmit(roomId, pending) {
  const frame = { type: 'send', room: roomId, text: pending.text, ...pending.extra, client_msg_id: pending.cid, ref: pending.cid };
  // uploads (issue 9): the upload objects stay on the pending message for display; their ids are sent
  if (pending.attachments?.length) frame.attachments = pending.attachments.map((upload) => upload.id);
  if (!frame.text) delete frame.text;
  return sendFrame(frame);
}

function find(roomId, cid) {
  return timeline(roomId).pending.find((pending) => pending.cid === cid);
}

/**
 * Queues a message: it shows at once as pending and goes out now or after the next reconnect.
 * `extra`: more fields of the send frame (`reply_to`, `thread_root`).
 * `attachments`: upload objects already stored by the server (views/uploads.js).
 */
export function queue(roomId, text, extra = {}, attachments = []) {
  const pending = { cid: newClientId(), text, extra, attachments, ts: Date.now(), status: 'pending' };
  timeline(roomId).pending.push(pending);
  emit('pending', roomId);
  transmit(roomId, pending);
  return pending;
}

/** After every hello: sends again whatever is still waiting (never the failed ones). */
export function resendAll(timelines) {
  for (const [roomId, line] of timelines) {
    for (const pending of line.pending) if (pending.status === 'pending') transmit(roomId, pending);
  }
}

/** The ack: the message is stored; it stays on screen as sent until its event arrives. */
export function acked({ room, client_msg_id: cid, seq, ts, held, held_id: heldId }) {
  const pending = find(room, cid);
  if (!pending) return;
  if (held) { // Moderation: held for review, until held_resolved
    Object.assign(pending, { status: 'held', heldId });
    return emit('pending', room);
  }
  if (timeline(room).seqs.has(seq)) {
    settle(room, cid);
    return;
  }
  Object.assign(pending, { status: 'sent', seq, ts });
  emit('pending', room);
}

/** An error frame: if it answers one of my messages, that message failed; returns whether it did. */
export function refused(timelines, { code, message, ref }) {
  for (const [roomId, line] of timelines) {
    const pending = line.pending.find((item) => item.cid === ref);
    if (pending) {
      Object.assign(pending, { status: 'failed', error: { code, message } });
      emit('pending', roomId);
      return true;
    }
  }
  return false;
}

/** Its event arrived (message with my cid): the stored message takes its place. */
export function settle(roomId, cid) {
  const line = timeline(roomId);
  if (!cid) return;
  const before = line.pending.length;
  line.pending = line.pending.filter((pending) => pending.cid !== cid);
  if (line.pending.length !== before) emit('pending', roomId);
}

/** My held message was approved (its event follows) or rejected ("Not delivered"). */
export function heldResolved({ id, approved }) {
  for (const [roomId, line] of store.timelines) {
    for (const pending of line.pending) if (pending.heldId === id) pending.status = approved ? 'sent' : 'rejected';
    emit('pending', roomId);
  }
}

export function retry(roomId, cid) {
  const pending = find(roomId, cid);
  if (!pending) return;
  Object.assign(pending, { status: 'pending', error: null });
  emit('pending', roomId);
  transmit(roomId, pending);
}

export function discard(roomId, cid) {
  settle(roomId, cid);
}
