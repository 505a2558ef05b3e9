// Preferences kept in this browser (localStorage): the theme, and per room the notification level
// (all / mentions / none) and mute. The server does not store them.
import { emit, store } from './state.js';

const THEME_KEY = 'parley.theme';
export const THEMES = ['system', 'light', 'dark'];
export const NOTIFY_LEVELS = ['all', 'mentions', 'none'];

export function theme() {
  const saved = localStorage.getItem(THEME_KEY);
  return THEMES.includes(saved) ? saved : 'system';
}

/** Applies a theme (`system` follows the device) and keeps the choice. */
export function setTheme(value, { save = true } = {}) {
  const chosen = THEMES.includes(value) ? value : 'system';
  if (chosen === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.dataset.theme = chosen;
  if (save) localStorage.setItem(THEME_KEY, chosen);
}

function notifyKey() {
  return `parley.notify.${store.me?.id ?? 0}`;
}

function readAll() {
  try {
    const all = JSON.parse(localStorage.getItem(notifyKey()) ?? '{}');
    return all && typeof all === 'object' ? all : {};
  } catch {
    return {};
  }
}

/** A room's notification settings: {level, muted}. By default direct chats notify of every message, rooms of mentions. */
export function roomNotifySettings(room) {
  const saved = readAll()[room?.id] ?? {};
  const fallback = room?.kind === 'direct' ? 'all' : 'mentions';
  return { level: NOTIFY_LEVELS.includes(saved.level) ? saved.level : fallback, muted: saved.muted === true };
}

export function setRoomNotifySettings(roomId, { level, muted }) {
  const all = readAll();
  all[roomId] = { level, muted: Boolean(muted) };
  localStorage.setItem(notifyKey(), JSON.stringify(all));
  emit('room', roomId);
  emit('rooms');
}

/** Whether a new message deserves a notification under the room's settings. */
export function wantsNotification(room, mentioned) {
  const { level, muted } = roomNotifySettings(room);
  if (muted || level === 'none') return false;
  return level === 'all' || mentioned;
}
