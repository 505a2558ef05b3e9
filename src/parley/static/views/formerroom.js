// A room I left of my own accord, opened from a search hit or a link: its history up to my
// leave, read-only (no composer), under a "You left this room" banner with Join when the room
// allows it. The server decides what is readable (GET .../messages answers `former`, or 404 for a
// room I never joined or was removed from: the "not joined" view stays). Loaded on first use.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { joinRoom } from '../actions.js';
import { emit, loaded, on, store, timeline } from '../state.js';
import { messageRow } from './timeline.js';
import { describeError } from './ui.js';

const PAGE = 50;

/** A room I am not in (a link to a public room, say): the offer to join it; then, if the server
 * lets me read it (a room I left), the read-only view instead. Returns the view's cleanup. */
export function mountNotJoined(roomId, el, backButton) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const join = h('button', { type: 'button', class: 'btn primary', on: { click: async () => {
    try {
      await joinRoom(roomId);
    } catch (err) {
      error.textContent = describeError(err);
    }
  } } }, t('browse.join'));
  replace(el, h('header', { class: 'room-header' }, backButton,
    h('div', { class: 'room-heading' }, h('h2', { class: 'room-title' }, t('room.notJoined')))),
  h('div', { class: 'notice' }, join, error));
  return mountFormer(roomId, el, backButton);
}

/** Turns the "not joined" view `el` into the read-only view when the server lets me read. */
async function mountFormer(roomId, el, backButton) {
  let page;
  try {
    [page] = await Promise.all([api.messages(roomId, { limit: PAGE }), loadStrings('former')]);
  } catch {
    return () => {}; // never a member, banned, or no such room: "not joined" it stays
  }
  if (!page.former || !el.isConnected) return () => {};
  const info = page.former;
  const line = timeline(roomId); // a jump (search) may have put the page around its hit here
  if (!line.loaded || !line.events.length) line.replaceWith(page.messages, page.has_more, false);
  const list = h('ol', { class: 'events former-events' });
  const older = h('button', { type: 'button', class: 'link-btn', on: { click: () => loadOlder() } }, t('former.older'));
  const edge = h('div', { class: 'timeline-edge' }, older);
  const scroller = h('div', { class: 'timeline', tabindex: 0, role: 'region', 'aria-label': t('timeline.label') }, edge, list);
  const error = h('p', { class: 'form-error', role: 'alert' });
  const join = info.can_join
    ? h('button', { type: 'button', class: 'btn primary', on: { click: async () => {
      try {
        store.timelines.delete(roomId); // the joined view starts from the newest events
        await joinRoom(roomId);
      } catch (err) {
        error.textContent = describeError(err);
      }
    } } }, t('former.join'))
    : null;
  const banner = h('div', { class: 'archived-note former-banner', role: 'status' },
    h('p', {}, h('strong', {}, t('former.left')), ' ', t(info.can_join ? 'former.hint' : 'former.hintClosed')), join, error);
  const title = info.kind === 'room' ? `#${info.name}` : info.name || t('room.notJoined');
  replace(el, h('header', { class: 'room-header' }, backButton,
    h('div', { class: 'room-heading' }, h('h2', { class: 'room-title', translate: 'no' }, title))),
  h('div', { class: 'room-body' }, h('div', { class: 'room-main' }, h('div', { class: 'timeline-wrap' }, scroller), banner)));
  el.classList.remove('placeholder');
  el.classList.add('former-room');
  el.dataset.former = String(info.left_seq);

  function render(focusSeq = null) {
    const messages = line.events.filter((event) => event.type === 'message' && event.seq <= info.left_seq);
    list.replaceChildren(...messages.map((event, i) => {
      const row = messageRow(event, messages[i - 1] ?? null, roomId);
      row.dataset.seq = String(event.seq);
      return row;
    }), h('li', { class: 'sys former-end' }, h('p', {}, t('former.endLine'))));
    older.hidden = !line.hasMore;
    const row = focusSeq === null ? null : list.querySelector(`[data-seq="${focusSeq}"]`);
    if (row) {
      row.setAttribute('tabindex', '-1');
      row.classList.add('jumped');
      setTimeout(() => row.classList.remove('jumped'), 1600);
      row.scrollIntoView({ block: 'center' });
      row.focus({ preventScroll: true });
    } else if (focusSeq === null) {
      scroller.scrollTop = scroller.scrollHeight;
    }
  }

  async function loadOlder() {
    const first = line.events[0]?.seq;
    if (first === undefined) return;
    const more = await api.messages(roomId, { before: first, limit: PAGE });
    line.add(more.messages);
    line.hasMore = more.has_more;
    render(first);
  }

  render(loaded.jump?.takeJump(roomId) ?? null); // a search hit held before this view was up
  emit('former', { roomId }); // tests and the shell: the read-only view is up
  const offs = [
    on('jump', ({ roomId: id, seq }) => id === roomId && render(seq)),
    on('timeline', ({ roomId: id, change }) => id === roomId && change?.kind === 'jump' && render()),
  ];
  return () => {
    offs.forEach((off) => off());
    if (!store.rooms.has(roomId)) store.timelines.delete(roomId); // not a member: nothing kept
  };
}
