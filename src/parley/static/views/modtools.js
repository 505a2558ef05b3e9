// Room moderation (issue 11), loaded on first use: reporting a message; muting, kicking, banning
// and changing the role of a member; the room settings (with the bans); the composer of a muted
// member, in slow mode or where only moderators post; the view of a room I was removed from; and
// the Moderation panel (open reports and messages held for review, live). Its strings
// (locales/moderation-*.js) and styles (moderation.css) come with it.
import { setRole, updateRoom } from '../actions.js';
import { api } from '../api.js';
import { h, iconButton, userText } from '../dom.js';
import { formatNumber, loadStrings, t, tNodes } from '../i18n.js';
import { person, personLabel, personParts } from '../people.js';
import { emit, on, queues, roleAtLeast, store, timeline } from '../state.js';
import { jump, snippet, toast } from './msgparts.js';
import { describeError, field, openDialog, uid } from './ui.js';

const styles = h('link', { rel: 'stylesheet', href: '/static/moderation.css' });
await Promise.all([loadStrings('moderation'), new Promise((resolve) => {
  styles.addEventListener('load', resolve);
  styles.addEventListener('error', resolve);
  document.head.append(styles);
})]);

const DURATIONS = [['10m', 600], ['1h', 3600], ['1d', 86_400], ['1w', 604_800]];
const SLOW_MODES = [0, 5, 30, 60, 300, 3600];
const ROLES = ['owner', 'admin', 'moderator', 'member'];
const MAX_TIMER_MS = 2 ** 31 - 1;

/** When a ban or a mute ends: "3 Dec 2026, 14:00", in the language shown. */
function formatWhen(ts) {
  return new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(ts);
}

// -- the server's moderation API (docs/protocol.md, "Moderation") --

const call = api.call;
export const mod = {
  report: (message, reason, note) => call('POST', `/rooms/${message.room}/messages/${message.seq}/report`, { reason, note }),
  kick: (roomId, userId, reason) => call('POST', `/rooms/${roomId}/members/${userId}/kick`, { reason }),
  ban: (roomId, userId, reason, seconds) => call('POST', `/rooms/${roomId}/bans`, { user_id: userId, reason, duration_s: seconds }),
  unban: (roomId, userId) => call('DELETE', `/rooms/${roomId}/bans/${userId}`),
  bans: (roomId) => call('GET', `/rooms/${roomId}/bans`),
  mute: (roomId, userId, reason, seconds) => call('POST', `/rooms/${roomId}/mutes`, { user_id: userId, reason, duration_s: seconds }),
  unmute: (roomId, userId) => call('DELETE', `/rooms/${roomId}/mutes/${userId}`),
  resolve: (id, action, seconds) => call('POST', `/reports/${id}/resolve`, { action, ...(seconds ? { duration_s: seconds } : {}) }),
  judge: (id, approve) => call('POST', `/held/${id}/${approve ? 'approve' : 'reject'}`),
};

// -- small parts --

function choice(name, value, label, hint, checked) {
  return h('label', { class: 'choice' }, h('input', { type: 'radio', name, value, checked }),
    h('span', {}, h('strong', {}, label), hint ? h('span', { class: 'field-hint' }, hint) : null));
}

function choices(legend, values, current, key, withHints = false) {
  const name = uid('choice');
  return h('fieldset', { class: 'choices' }, h('legend', {}, legend),
    values.map((value) => choice(name, value, t(`${key}.${value}`), withHints ? t(`${key}.${value}Hint`) : null, value === current)));
}

const picked = (fieldset) => fieldset.querySelector('input:checked')?.value;

/** 10 minutes ... 1 week, and for bans "forever" (the default there); value() is seconds or null. */
function durationSelect(forever) {
  const options = DURATIONS.map(([key, seconds]) => h('option', { value: seconds }, t(`mod.duration.${key}`)));
  if (forever) options.push(h('option', { value: '', selected: true }, t('mod.duration.forever')));
  const select = h('select', { name: 'duration', class: 'mod-duration' }, options);
  return { el: select, value: () => (select.value ? Number(select.value) : null) };
}

/** "until 3 Dec 2026, 14:00", or "permanently" for a ban without an end. */
function untilText(until) {
  return until ? t('mod.until', { until: formatWhen(until) }) : t('mod.forever');
}

function roomOfItem(item) {
  const room = typeof item.room === 'object' && item.room ? item.room : { id: item.room ?? item.room_id };
  return { id: room.id, name: room.name ?? store.rooms.get(room.id)?.name ?? `#${room.id}` };
}

// -- reporting a message --

export function reportDialog(message) {
  const reasons = choices(t('report.reason'), ['spam', 'abuse', 'other'], 'spam', 'report', true);
  const note = h('textarea', { name: 'note', rows: 3, maxlength: 500 });
  openDialog({
    title: t('report.title'),
    submitLabel: t('report.submit'),
    body: [h('blockquote', { class: 'mod-quote', 'data-user': true }, snippet(message)), reasons,
      field(t('report.note'), note, t('report.noteHint'))],
    describe: (err) => (err?.status === 409 ? t('report.already') : describeError(err)),
    onSubmit: async () => {
      await mod.report(message, picked(reasons), note.value.trim());
      toast(t('report.thanks'));
    },
  });
}

// -- acting on a member: from the member panel and from a message's menu --

function memberOf(roomId, user) {
  return store.members.get(roomId)?.find((item) => item.user.id === user.id) ?? { user, role: 'member' };
}

/** The actions on one member (mute or unmute, kick, ban, role), as a small menu dialog. */
export function memberMenu(roomId, user) {
  const room = store.rooms.get(roomId);
  const member = memberOf(roomId, user);
  const muted = member.muted_until > Date.now();
  const titleId = uid('menu-title');
  const dialog = h('dialog', { class: 'dialog mod-menu', 'aria-labelledby': titleId });
  const item = (key, run, danger = false) => h('li', {}, h('button', { type: 'button', class: `mod-item${danger ? ' danger' : ''}`,
    on: { click: () => { dialog.close(); run(); } } }, t(`mod.menu.${key}`)));
  dialog.append(h('div', { class: 'dialog-form' },
    h('h2', { id: titleId, class: 'mod-menu-title' }, personParts(user)),
    muted ? h('p', { class: 'muted' }, t('mod.mutedUntil', { until: formatWhen(member.muted_until) })) : null,
    h('ul', { class: 'mod-items' },
      muted ? item('unmute', () => mod.unmute(roomId, user.id).then(() => toast(t('mod.unmute.done', { user: personLabel(user) })), failed))
        : item('mute', () => sanctionDialog('mute', roomId, user)),
      item('kick', () => sanctionDialog('kick', roomId, user), true),
      item('ban', () => sanctionDialog('ban', roomId, user), true),
      roleAtLeast(room, 'admin') && member.state !== 'invited' ? item('role', () => roleDialog(room, member)) : null),
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn', on: { click: () => dialog.close() } }, t('common.cancel')))));
  const opener = document.activeElement;
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener?.isConnected && !document.querySelector('dialog[open]')) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
}

function failed(err) {
  toast(describeError(err));
}

/** Mute (with a duration), kick, or ban (with a duration or forever), each with a reason. */
export function sanctionDialog(kind, roomId, user) {
  const reason = h('input', { name: 'reason', maxlength: 500, autocomplete: 'off' });
  const duration = kind === 'kick' ? null : durationSelect(kind === 'ban');
  openDialog({
    title: t(`mod.${kind}.title`, { user: personLabel(user) }),
    submitLabel: t(`mod.${kind}.submit`),
    danger: true,
    body: [h('p', { class: 'muted' }, t(`mod.${kind}.explain`)), duration && field(t('mod.duration'), duration.el),
      field(t('mod.reason'), reason, t('mod.reasonHint'))],
    onSubmit: async () => {
      const why = reason.value.trim();
      if (kind === 'kick') await mod.kick(roomId, user.id, why);
      else await mod[kind](roomId, user.id, why, duration.value());
      toast(t(`mod.${kind}.done`, { user: personLabel(user) }));
    },
  });
}

/** A role below mine (an owner may also hand the room over: the crown button does that). */
function roleDialog(room, member) {
  const mine = ROLES.indexOf(room.my_role);
  const allowed = ROLES.filter((role, i) => i > mine && role !== 'owner');
  const select = h('select', { name: 'role' }, allowed.map((role) => h('option', { value: role, selected: role === member.role }, t(`role.${role}`))));
  openDialog({
    title: t('mod.role.title', { user: personLabel(member.user) }),
    submitLabel: t('common.save'),
    body: field(t('mod.role.label'), select, t('mod.role.hint')),
    onSubmit: () => setRole(room.id, member.user.id, select.value),
  });
}

// -- room settings --

/** Name, topic, visibility (public or private), who may post, slow mode, retention; the bans, with Unban. */
export function roomSettings(room) {
  const name = h('input', { name: 'name', required: true, maxlength: 80, value: room.name ?? '', autocomplete: 'off' });
  const topic = h('input', { name: 'topic', maxlength: 500, value: room.topic ?? '', autocomplete: 'off' });
  const policy = choices(t('roomSettings.policy'), ['everyone', 'moderators'], room.post_policy ?? 'everyone', 'roomSettings.policy', true);
  const slow = h('select', { name: 'slow_mode_s' }, SLOW_MODES.map((seconds) =>
    h('option', { value: seconds, selected: seconds === (room.slow_mode_s ?? 0) }, t(`roomSettings.slow.${seconds}`))));
  if (!SLOW_MODES.includes(room.slow_mode_s ?? 0)) slow.append(h('option', { value: room.slow_mode_s, selected: true }, `${room.slow_mode_s} s`));
  const retention = h('input', { name: 'retention_days', type: 'number', min: 0, max: 36_500, step: 1, value: room.retention_days ?? 0, inputmode: 'numeric' });
  const visibility = choices(t('roomSettings.visibility'), ['public', 'private'], room.visibility ?? 'public', 'roomSettings.visibility', true);
  const bans = h('ul', { class: 'mod-bans', 'aria-label': t('roomSettings.bans') });
  const loadBans = () => mod.bans(room.id).then(({ bans: list }) => bans.replaceChildren(...(list.length ? list.map((ban) => banRow(room, ban, loadBans))
    : [h('li', { class: 'muted' }, t('roomSettings.noBans'))])), (err) => bans.replaceChildren(h('li', { class: 'form-error' }, describeError(err))));
  bans.append(h('li', { class: 'muted' }, t('common.loading')));
  const off = on('room', (id) => id === room.id && loadBans()); // bans and unbans are room events
  const dialog = openDialog({
    title: t('roomSettings.title', { room: room.name }),
    submitLabel: t('common.save'),
    body: [field(t('roomSettings.name'), name), field(t('roomSettings.topic'), topic), visibility, policy,
      field(t('roomSettings.slow'), slow, t('roomSettings.slowHint')),
      field(t('roomSettings.retention'), retention, t('roomSettings.retentionHint')),
      h('section', { class: 'mod-bans-section' }, h('h3', {}, t('roomSettings.bans')), bans)],
    onSubmit: async () => {
      const current = store.rooms.get(room.id) ?? room;
      const wanted = { name: name.value.trim(), topic: topic.value.trim(), visibility: picked(visibility), post_policy: picked(policy),
        slow_mode_s: Number(slow.value), retention_days: Number(retention.value || 0) };
      const changes = Object.fromEntries(Object.entries(wanted).filter(([key, value]) => value !== (current[key] ?? defaults[key])));
      if (Object.keys(changes).length) await updateRoom(room.id, changes);
    },
  });
  dialog.classList.add('room-settings');
  dialog.addEventListener('close', off);
  loadBans();
}

const defaults = { topic: '', visibility: 'public', post_policy: 'everyone', slow_mode_s: 0, retention_days: 0 };

function banRow(room, ban, reload) {
  const lines = [h('span', { class: 'mod-ban-who' }, personParts(ban.user)),
    h('span', { class: 'field-hint' }, untilText(ban.until), ban.by ? [' · ', ...tNodes('mod.by', { by: person(ban.by) })] : null),
    ban.reason ? userText(ban.reason, 'span', { class: 'mod-reason' }) : null];
  const unban = h('button', { type: 'button', class: 'btn small', on: { click: async () => {
    unban.disabled = true;
    try {
      await mod.unban(room.id, ban.user.id);
      reload();
      toast(t('mod.unban.done', { user: personLabel(ban.user) }));
    } catch (err) {
      unban.disabled = false;
      toast(describeError(err));
    }
  } } }, t('mod.menu.unban'));
  unban.setAttribute('aria-label', t('mod.unban.label', { user: personLabel(ban.user) }));
  return h('li', { class: 'mod-ban' }, h('div', { class: 'mod-ban-text' }, lines), unban);
}

// -- the composer: muted, only moderators post, slow mode --

/** Watches the room and my sends; returns {destroy}. In a room I was removed from: why, instead. */
export function gate(roomId, composer) {
  const room = store.rooms.get(roomId);
  if (room?.my_state === 'removed') {
    composer.el.replaceWith(removedNotice(room));
    return { destroy() {} };
  }
  const note = h('p', { class: 'composer-gate', role: 'status', hidden: true });
  composer.el.prepend(note);
  const input = composer.input;
  const placeholder = input?.placeholder;
  let timer = null;
  let waiting = false;
  let lastSent = lastOwnSend(roomId);
  const block = (event) => {
    if (waiting && event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  };
  input?.addEventListener('keydown', block, true);
  const render = () => {
    clearTimeout(timer);
    const room = store.rooms.get(roomId);
    if (!room) return;
    const now = Date.now();
    const staff = roleAtLeast(room, 'moderator');
    let text = '';
    let closed = false;
    waiting = false;
    if (room.my_muted_until > now) {
      closed = true;
      text = t('gate.mutedUntil', { until: formatWhen(room.my_muted_until) });
      timer = setTimeout(render, Math.min(room.my_muted_until - now + 500, MAX_TIMER_MS));
    } else if (room.post_policy === 'moderators' && !staff) {
      closed = true;
      text = t('gate.moderatorsOnly');
    } else if (room.slow_mode_s > 0 && !staff) {
      const left = Math.ceil((lastSent + room.slow_mode_s * 1000 - now) / 1000);
      waiting = left > 0;
      text = waiting ? t('gate.slowWait', { time: clock(left) }) : t('gate.slow', { time: clock(room.slow_mode_s) });
      if (waiting) timer = setTimeout(render, 1000);
    }
    note.textContent = text;
    note.hidden = !text;
    note.dataset.kind = closed ? 'closed' : waiting ? 'waiting' : 'info';
    composer.el.classList.toggle('gated', closed);
    for (const control of composer.el.querySelectorAll('textarea, button')) control.disabled = closed;
    const send = composer.el.querySelector('.send-btn');
    if (send && !closed) send.disabled = waiting;
    if (input) input.placeholder = closed ? text : placeholder;
  };
  const onPending = (id) => {
    if (id !== roomId) return;
    const newest = Math.max(0, ...timeline(roomId).pending.map((pending) => pending.ts));
    if (newest > lastSent) {
      lastSent = newest;
      render();
    }
  };
  const offs = [on('room', (id) => id === roomId && render()), on('pending', onPending)];
  render();
  return {
    destroy() {
      clearTimeout(timer);
      offs.forEach((off) => off());
      input?.removeEventListener('keydown', block, true);
      note.remove();
    },
  };
}

function lastOwnSend(roomId) {
  const line = timeline(roomId);
  const mine = [...line.events].reverse().find((event) => event.type === 'message' && event.sender?.id === store.me.id);
  return Math.max(mine?.ts ?? 0, ...line.pending.map((pending) => pending.ts));
}

/** 45 s, 4:05, 1:00:00. */
function clock(seconds) {
  if (seconds < 60) return t('gate.seconds', { count: formatNumber(seconds) });
  const h2 = (n) => String(n).padStart(2, '0');
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours ? `${hours}:${h2(minutes)}:${h2(seconds % 60)}` : `${minutes}:${h2(seconds % 60)}`;
}

// -- a room I was removed from (kicked or banned while watching it) --

export function removedNotice(room) {
  const { type, by, sender, reason, until } = room.removal ?? {};
  const banned = type === 'member_banned';
  const key = banned ? (until ? 'removed.bannedUntil' : 'removed.banned') : 'removed.kicked';
  return h('div', { class: 'removed-note', role: 'alert' },
    h('p', { class: 'removed-title' }, ...tNodes(key, { by: person(by ?? sender), until: until ? formatWhen(until) : '' })),
    reason ? h('p', {}, ...tNodes('removed.reason', { reason: userText(reason, 'q') })) : null,
    h('p', { class: 'muted' }, t(banned ? 'removed.bannedHint' : 'removed.kickedHint')),
    h('a', { class: 'btn', href: '#/' }, t('removed.close')));
}

// -- the Moderation panel: open reports and held messages, live --

let panel = null;

export function openQueues() {
  if (panel) return panel.focus();
  const titleId = uid('queues-title');
  const tabs = {};
  const lists = {};
  const dialog = h('dialog', { class: 'dialog mod-panel', 'aria-labelledby': titleId });
  const tablist = h('div', { class: 'mod-tabs', role: 'tablist' });
  const bodies = h('div', { class: 'mod-tab-bodies' });
  for (const kind of ['reports', 'held']) {
    tabs[kind] = h('button', { type: 'button', role: 'tab', class: 'mod-tab', id: uid('tab'), 'aria-selected': 'false', tabindex: -1,
      on: { click: () => select(kind) } });
    lists[kind] = h('ul', { class: 'mod-queue', role: 'tabpanel', 'aria-labelledby': tabs[kind].id, hidden: true, dataset: { kind } },
      h('li', { class: 'muted' }, t('common.loading')));
    tablist.append(tabs[kind]);
    bodies.append(lists[kind]);
  }
  tablist.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
    event.preventDefault();
    select(tabs.reports.getAttribute('aria-selected') === 'true' ? 'held' : 'reports', true);
  });
  dialog.append(h('div', { class: 'dialog-form' },
    h('div', { class: 'panel-head' }, h('h2', { id: titleId }, t('queues.title')), iconButton('close', t('queues.close'), () => dialog.close())),
    tablist, bodies));
  const items = { reports: new Map(), held: new Map() };

  function select(kind, focus = false) {
    for (const [name, tab] of Object.entries(tabs)) {
      tab.setAttribute('aria-selected', String(name === kind));
      tab.tabIndex = name === kind ? 0 : -1;
      lists[name].hidden = name !== kind;
    }
    if (focus) tabs[kind].focus();
  }
  function counts() {
    tabs.reports.replaceChildren(t('queues.reports'), h('span', { class: 'badge', hidden: !items.reports.size }, formatNumber(items.reports.size)));
    tabs.held.replaceChildren(t('queues.held'), h('span', { class: 'badge', hidden: !items.held.size }, formatNumber(items.held.size)));
    for (const kind of ['reports', 'held']) {
      const empty = lists[kind].querySelector(':scope > .queue-empty');
      if (!items[kind].size && !empty && !lists[kind].querySelector('.muted')) lists[kind].append(h('li', { class: 'queue-empty muted' }, t(`queues.empty.${kind}`)));
      if (items[kind].size) empty?.remove();
    }
  }
  function add(kind, item, atTop) {
    if (items[kind].has(item.id)) return;
    const row = kind === 'reports' ? reportRow(item, () => drop(kind, item.id)) : heldRow(item, () => drop(kind, item.id));
    items[kind].set(item.id, row);
    if (atTop) lists[kind].prepend(row);
    else lists[kind].append(row);
  }
  function drop(kind, id) {
    const row = items[kind].get(id);
    if (!row) return;
    const next = row.nextElementSibling ?? row.previousElementSibling;
    const hadFocus = row.contains(document.activeElement);
    row.remove();
    items[kind].delete(id);
    queues[kind].delete(id);
    emit('queue', {});
    counts();
    if (hadFocus) (next?.querySelector('button') ?? tabs[kind]).focus();
  }
  async function load(kind) {
    try {
      const answer = await call('GET', kind === 'held' ? '/held' : '/reports?state=open');
      lists[kind].replaceChildren();
      for (const item of answer[kind]) add(kind, item, false);
      queues[kind] = new Set(items[kind].keys());
      emit('queue', {});
    } catch (err) {
      lists[kind].replaceChildren(h('li', { class: 'form-error' }, describeError(err)));
    }
    counts();
  }
  const off = on('queue', (frame) => {
    if (frame.type === 'report_added') add('reports', frame.report, true);
    else if (frame.type === 'report_resolved') drop('reports', frame.report.id);
    else if (frame.type === 'held_added') add('held', frame.held, true);
    else if (frame.type === 'held_resolved') drop('held', frame.id);
    else return;
    counts();
  });
  const opener = document.activeElement;
  dialog.addEventListener('close', () => {
    off();
    panel = null;
    dialog.remove();
    if (opener?.isConnected) opener.focus();
  });
  panel = dialog;
  document.body.append(dialog);
  counts();
  select(queues.reports.size || !queues.held.size ? 'reports' : 'held');
  dialog.showModal();
  load('reports');
  load('held');
}

function when(ts) {
  return ts ? h('time', { class: 'msg-time', datetime: new Date(ts).toISOString() }, formatWhen(ts)) : null;
}

function queueHead(item, ...extra) {
  const room = roomOfItem(item);
  return h('div', { class: 'queue-head' }, h('span', { class: 'queue-room' }, '#', userText(room.name)), ...extra, when(item.ts ?? item.created_at));
}

/** Opens the room at the message (closing the panel). */
function openAt(roomId, seq) {
  document.querySelector('dialog.mod-panel')?.close();
  if (seq) jump(roomId, seq);
  else location.hash = `#/room/${roomId}`;
}

function reportRow(report, done) {
  const room = roomOfItem(report);
  const message = report.message ?? {};
  const sender = message.sender ?? report.sender;
  const action = h('select', { name: 'action', class: 'queue-action', 'aria-label': t('queues.action') },
    ['dismiss', 'delete', 'mute', 'kick', 'ban'].map((value) => h('option', { value }, t(`queues.do.${value}`))));
  const duration = durationSelect(true);
  duration.el.setAttribute('aria-label', t('mod.duration'));
  const error = h('p', { class: 'form-error', role: 'alert' });
  const showDuration = () => {
    duration.el.hidden = action.value !== 'mute' && action.value !== 'ban';
    duration.el.querySelector('option[value=""]').hidden = action.value === 'mute';
    if (action.value === 'mute' && !duration.el.value) duration.el.value = String(DURATIONS[1][1]);
  };
  action.addEventListener('change', showDuration);
  showDuration();
  const resolve = h('button', { type: 'button', class: 'btn primary small', on: { click: async () => {
    resolve.disabled = true;
    error.textContent = '';
    try {
      await mod.resolve(report.id, action.value, duration.el.hidden ? null : duration.value());
      done();
    } catch (err) {
      error.textContent = describeError(err);
      resolve.disabled = false;
    }
  } } }, t('queues.resolve'));
  return h('li', { class: 'queue-item', dataset: { reportId: report.id } },
    queueHead(report, h('span', { class: `queue-reason reason-${report.reason}` }, t(`report.${report.reason}`))),
    h('p', { class: 'queue-who' }, ...tNodes('queues.reported', { reporter: person(report.reporter ?? report.by), sender: person(sender) })),
    h('button', { type: 'button', class: 'queue-quote', title: t('queues.openMessage'), on: { click: () => openAt(room.id, message.seq ?? report.seq) } },
      userText(report.snippet ?? snippet(message), 'span'), message.deleted ? h('span', { class: 'muted' }, ` · ${t('actions.deleted')}`) : null),
    report.note ? h('p', { class: 'queue-note' }, ...tNodes('queues.note', { note: userText(report.note, 'q') })) : null,
    h('div', { class: 'queue-actions' }, action, duration.el, resolve), error);
}

function heldRow(held, done) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const judge = (approve) => async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    error.textContent = '';
    try {
      await mod.judge(held.id, approve);
      done();
    } catch (err) {
      error.textContent = describeError(err);
      button.disabled = false;
    }
  };
  // The signals that fired ("link_flood"...), named; the classifier's probability is the score.
  const why = (held.reasons ?? []).filter((reason) => !reason.startsWith('classifier')).map((reason) => {
    const named = t(`queues.why.${reason}`);
    return named.startsWith('queues.why.') ? reason : named;
  });
  const score = typeof held.score === 'number' ? t('queues.score', { score: formatNumber(Math.round(held.score * 100)) }) : null;
  return h('li', { class: 'queue-item', dataset: { heldId: held.id } },
    queueHead(held, h('span', { class: 'queue-sender' }, personParts(held.sender ?? held.user))),
    userText(held.text ?? '', 'p', { class: 'queue-text' }),
    why.length || score ? h('p', { class: 'field-hint' }, [score, ...why].filter(Boolean).join(' · ')) : null,
    h('div', { class: 'queue-actions' },
      h('button', { type: 'button', class: 'btn small danger', on: { click: judge(false) } }, t('queues.reject')),
      h('button', { type: 'button', class: 'btn small primary', on: { click: judge(true) } }, t('queues.approve'))),
    error);
}
