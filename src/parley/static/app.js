// Parley's browser client: boots the language, checks the session and shows either the log-in
// screen or the chat. Served as ES modules with no build step.
import { api, setUnauthorizedHandler } from './api.js';
import { setTheme, theme } from './prefs.js';
import { detectLanguage, setLanguage, t } from './i18n.js';
import { on, resetStore, store, totalUnread, upsertRoom } from './state.js';
import { startSync, stopSync } from './sync.js';
import { createShell } from './views/shell.js';

const root = document.getElementById('app');
let screen = null;

function show(next) {
  screen?.destroy?.();
  screen = next;
  root.removeAttribute('aria-busy');
  root.replaceChildren(next.el);
  next.mounted?.();
}

/** The sign-in screen; its module loads only when someone is signed out. */
async function showAuth(mode = 'login') {
  updateTitle();
  const { createAuthView } = await import('./views/auth.js');
  show(createAuthView({
    mode,
    onSignedIn: startSession,
    onLanguage: async (code, currentMode) => {
      await setLanguage(code, { save: true });
      showAuth(currentMode);
    },
  }));
}

function showShell() {
  show(createShell({
    onLanguage: async (code) => {
      await setLanguage(code, { save: true });
      showShell();
      updateTitle();
    },
    onLogout: async () => {
      await api.logout().catch(() => {});
      endSession();
    },
  }));
}

async function startSession(me) {
  store.me = me;
  const rooms = await api.rooms().then((answer) => answer.rooms, () => []);
  rooms.forEach(upsertRoom);
  showShell();
  startSync();
  updateTitle();
}

function endSession() {
  if (!store.me) return;
  stopSync();
  resetStore();
  showAuth();
}

function updateTitle() {
  const unread = store.me ? totalUnread() : 0;
  document.title = unread ? `(${unread}) ${t('app.name')}` : t('app.name');
}

async function boot() {
  await setLanguage(detectLanguage());
  setTheme(theme(), { save: false });
  setUnauthorizedHandler(endSession);
  // The settings dialog switches the language.
  on('language', async (code) => {
    await setLanguage(code, { save: true });
    if (store.me) showShell();
    updateTitle();
  });
  on('rooms', updateTitle);
  on('signed-out', endSession);
  let me = null;
  try {
    me = await api.me();
  } catch {
    showAuth();
    return;
  }
  await startSession(me);
}

boot();
