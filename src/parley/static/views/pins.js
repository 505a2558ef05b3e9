// Pinned messages: a header button with their count, opening the room's pinned list
// (views/msgtools.js pinsDialog, loaded on first use).
import { h, icon } from '../dom.js';
import { t, tCount } from '../i18n.js';
import { loadPins } from '../messages.js';
import { on, store } from '../state.js';
import { tools } from './msgparts.js';

export function pinsButton(roomId) {
  const count = h('span', { class: 'pin-count', hidden: true });
  const el = h('button', { type: 'button', class: 'icon-btn pins-btn', 'aria-haspopup': 'dialog',
    on: { click: () => tools().then((m) => m.pinsDialog(roomId)) } }, icon('pin'), count);
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
