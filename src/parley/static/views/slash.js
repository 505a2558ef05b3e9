// Slash commands (issue 12), loaded when a message starts with "/": the built-ins run here through
// the REST API; a command a bot in the room registered goes out as a message the server routes to
// it. `commandItems` feeds the composer's completion (complete.js).
import { loadMembers, sendMessage } from '../actions.js';
import { api, request } from '../api.js';
import { h } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { displayName, store } from '../state.js';
import { openDialog } from './ui.js';

await Promise.all([loadStrings('bots'), styles()]); // locales/bots-*.js, bots.css

/** bots.css, once (views/bots.js loads it too). */
export function styles() {
  if (document.querySelector('link[href="/static/bots.css"]')) return Promise.resolve();
  const link = h('link', { rel: 'stylesheet', href: '/static/bots.css' });
  return new Promise((resolve) => {
    link.addEventListener('load', resolve);
    link.addEventListener('error', resolve);
    document.head.append(link);
  });
}

/** The composer's hook: a built-in runs; a bot's command (or /me) goes out as a message; errors show. */
export function slash(roomId, text, extra, showError) {
  runSlash(roomId, text, extra).then((done) => done || sendMessage(roomId, text, extra, []),
    (err) => showError(err.message));
}

const MOD = new Set(['kick', 'ban', 'unban', 'mute', 'unmute']);
export const BUILTINS = ['me', 'topic', 'invite', 'help', 'kick', 'ban', 'unban', 'mute', 'unmute'];
const cache = new Map();

/** The commands of the room's bots (fetched once per room and page load). */
export function roomCommands(roomId) {
  if (!cache.has(roomId)) {
    cache.set(roomId, request('GET', `/rooms/${roomId}/commands`).then((r) => r.commands, () => {
      cache.delete(roomId);
      return [];
    }));
  }
  return cache.get(roomId);
}

/** Built-ins and bot commands starting with `prefix`: {name, usage, hint, bot}. */
export async function commandItems(roomId, prefix) {
  const q = prefix.toLowerCase();
  const room = store.rooms.get(roomId);
  const builtins = BUILTINS.filter((name) => room?.kind === 'room' || !['topic', 'invite', ...MOD].includes(name))
    .map((name) => ({ name, usage: t(`slash.${name}.usage`), hint: t(`slash.${name}`), bot: null }));
  const bots = (await roomCommands(roomId)).map((c) => ({ name: c.name, usage: c.usage, hint: c.description, bot: c.bot }));
  return [...bots, ...builtins].filter((c) => c.name.startsWith(q)); // the room's own first
}

async function member(roomId, name) {
  const username = name.replace(/^@/, '').toLowerCase();
  if (!store.members.has(roomId)) await loadMembers(roomId).catch(() => {});
  const found = (store.members.get(roomId) ?? []).find((m) => m.user.username.toLowerCase() === username)?.user
    ?? (await api.searchUsers(username, 20)).users?.find((u) => u.username.toLowerCase() === username);
  if (!found) throw new Error(t('slash.noUser', { name: username }));
  return found;
}

/** "10m", "2h", "1d", "90" (seconds) -> seconds; default 10 minutes. */
function duration(text) {
  const m = /^(\d+)([smhd]?)$/.exec(text ?? '');
  if (!m) return 600;
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

function help(roomId) {
  const list = h('ul', { class: 'slash-help' });
  commandItems(roomId, '').then((items) => list.replaceChildren(...items.map((c) => h('li', {},
    h('code', {}, `/${c.name}${c.usage ? ` ${c.usage}` : ''}`), ' — ', c.hint || '',
    c.bot ? [' ', h('span', { class: 'bot-badge' }, `@${c.bot.username}`)] : null))));
  openDialog({ title: t('slash.helpTitle'), body: [list], submitLabel: t('slash.close'), onSubmit: async () => {} });
}

/** Runs a built-in; false when `text` is a bot's command (then sent as a message). Throws with a message. */
export async function runSlash(roomId, text, extra = {}) {
  const m = /^\/([a-z0-9_-]+)(?:\s+([\s\S]*))?$/i.exec(text.trim());
  if (!m) return false;
  const name = m[1].toLowerCase();
  const args = (m[2] ?? '').trim();
  const [first, ...rest] = args.split(/\s+/);
  const room = `/rooms/${roomId}`;
  switch (name) {
    case 'me':
      if (!args) throw new Error(t('slash.usage', { usage: `/me ${t('slash.me.usage')}` }));
      sendMessage(roomId, `_${displayName(store.me)} ${args.replace(/[_*\\]/g, '\\$&')}_`, extra, []);
      return true;
    case 'topic':
      await api.updateRoom(roomId, { topic: args });
      return true;
    case 'invite':
      if (!args) throw new Error(t('slash.usage', { usage: `/invite ${t('slash.invite.usage')}` }));
      await api.invite(roomId, args.split(/[\s,]+/).map((s) => s.replace(/^@/, '')).filter(Boolean));
      return true;
    case 'help':
      help(roomId);
      return true;
    default:
      break;
  }
  if (MOD.has(name)) {
    if (!first) throw new Error(t('slash.usage', { usage: `/${name} ${t(`slash.${name}.usage`)}` }));
    const user = await member(roomId, first);
    const reason = rest.join(' ');
    if (name === 'kick') await request('POST', `${room}/members/${user.id}/kick`, { reason });
    else if (name === 'ban') await request('POST', `${room}/bans`, { user_id: user.id, reason });
    else if (name === 'unban') await request('DELETE', `${room}/bans/${user.id}`);
    else if (name === 'mute') {
      const long = /^\d+[smhd]?$/.test(rest[0] ?? '');
      await request('POST', `${room}/mutes`, { user_id: user.id, duration_s: duration(long ? rest[0] : ''),
        reason: (long ? rest.slice(1) : rest).join(' ') });
    } else await request('DELETE', `${room}/mutes/${user.id}`);
    return true;
  }
  if ((await roomCommands(roomId)).some((c) => c.name === name)) return false;
  throw new Error(t('slash.unknown', { name }));
}
