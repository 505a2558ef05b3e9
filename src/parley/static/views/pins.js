// Pinned messages (issue 10): a header button with their count, opening the room's pinned list;
// picking one jumps to it in the timeline. Moderators and up unpin from the list.
import { h, icon, iconButton, userText } from '../dom.js';
import { formatDateTime, t, tCount } from '../i18n.js';
import { findMessage, loadPins, setPinned } from '../messages.js';
import { personParts } from '../people.js';
import { on, store } from '../state.js';
import { canPin, jump, snippet, toast } from './actions.js';
import { describeError } from './ui.js';

export function pinsButton(roomId) {
  const count = h('span', { class: 'pin-count', hidden: true });
  const el = h('button', { type: 'button', class: 'icon-btn pins-btn', 'aria-haspopup': 'dialog',
    on: { click: () => pinsDialog(roomId) } }, icon('pin'), count);
  const render = () => {
    const n = store.pins?.get(roomId)?.length ?? 0;
    count.hidden = n === 0;
    count.textContent = String(n);
    const label = n ? tCount('pins.count', n, { count: n }) : t('pins.open');
    el.setAttribute('aria-label', label);
    el.title = label;
  };
  const refresh = () => loadPins(roomId).then(render, render);
  const off = on('pins', (id) => id === roomId && refresh());
  refresh();
  return { el, destroy: off };
}

function pinsDialog(roomId) {
  const list = h('ul', { class: 'pins-list' }, h('li', { class: 'muted' }, t('common.loading')));
  const dialog = h('dialog', { class: 'dialog pins-dialog', 'aria-labelledby': `pins-title-${roomId}` },
    h('div', { class: 'dialog-form' },
      h('div', { class: 'panel-head' }, h('h2', { id: `pins-title-${roomId}` }, t('pins.title')),
        iconButton('close', t('actions.close'), () => dialog.close())),
      list));
  const render = (pins) => {
    list.replaceChildren(...(pins.length ? pins.map((message) => pinItem(roomId, findMessage(roomId, message.seq) ?? message, dialog))
      : [h('li', { class: 'muted' }, t('pins.empty'))]));
  };
  const refresh = () => loadPins(roomId).then(render, (err) => list.replaceChildren(h('li', { class: 'form-error' }, describeError(err))));
  const off = on('pins', (id) => id === roomId && refresh());
  dialog.addEventListener('close', () => { off(); dialog.remove(); });
  document.body.append(dialog);
  dialog.showModal();
  refresh();
}

function pinItem(roomId, message, dialog) {
  const open = h('button', { type: 'button', class: 'pin-item', on: { click: () => { dialog.close(); jump(roomId, message.seq); } } },
    h('span', { class: 'pin-item-head' }, personParts(message.sender, 'quote-name')[0],
      h('time', { class: 'msg-time' }, formatDateTime(message.ts))),
    userText(snippet(message), 'span', { class: 'pin-item-text' }));
  const unpin = canPin({ ...message, room: roomId })
    ? h('button', { type: 'button', class: 'btn small', on: { click: () => setPinned(roomId, message.seq, false).catch((err) => toast(describeError(err))) } },
      t('actions.unpin'))
    : null;
  return h('li', { class: 'pin-row' }, open, unpin);
}
