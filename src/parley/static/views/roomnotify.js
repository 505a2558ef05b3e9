// A room's notification setting (all / mentions / none) and mute, kept in this browser (prefs.js).
import { h } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { roomLabel } from '../people.js';
import { NOTIFY_LEVELS, roomNotifySettings, setRoomNotifySettings } from '../prefs.js';
import { openDialog, uid } from './ui.js';

await loadStrings('later'); // the strings of the parts loaded on first use (locales/later-*.js)

export function roomNotifyDialog(room) {
  const current = roomNotifySettings(room);
  const name = uid('notify-level');
  const levels = h('fieldset', { class: 'choices' }, h('legend', {}, t('roomNotify.level')),
    NOTIFY_LEVELS.map((level) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name, value: level, checked: level === current.level }),
      h('span', {}, h('strong', {}, t(`roomNotify.${level}`)), h('span', { class: 'field-hint' }, t(`roomNotify.${level}Hint`))))));
  const mute = h('input', { type: 'checkbox', name: 'muted', checked: current.muted });
  const muteField = h('label', { class: 'choice' }, mute,
    h('span', {}, h('strong', {}, t('roomNotify.mute')), h('span', { class: 'field-hint' }, t('roomNotify.muteHint'))));
  openDialog({
    title: t('roomNotify.title', { room: roomLabel(room) }),
    submitLabel: t('common.save'),
    body: [levels, muteField],
    onSubmit: () => setRoomNotifySettings(room.id, {
      level: levels.querySelector('input:checked')?.value ?? current.level, muted: mute.checked,
    }),
  });
}
