// Desktop notifications: which messages deserve one (those mentioning me, and direct messages),
// shown only while the tab is hidden.
import { t } from './i18n.js';
import { personLabel, roomLabel } from './people.js';

export function notificationsAvailable() {
  return 'Notification' in window && window.isSecureContext;
}

export function notificationPermission() {
  return notificationsAvailable() ? Notification.permission : 'denied';
}

export async function requestNotifications() {
  if (notificationsAvailable()) await Notification.requestPermission();
  return notificationPermission();
}

/** A new message from someone else, in a room I am not looking at. */
export function notifyMessage(room, event, mentioned, threadReply = false) {
  if (!mentioned && room.kind !== 'direct') return;
  const title = room.kind === 'direct'
    ? personLabel(event.sender)
    : t(threadReply ? 'notify.thread' : 'notify.mention', { user: personLabel(event.sender), room: roomLabel(room) });
  notify(title, event.text, room.id);
}

/** Shows a notification (plain text only) that opens the room when clicked. */
function notify(title, body, roomId) {
  if (!document.hidden || notificationPermission() !== 'granted') return;
  const text = body.length > 140 ? `${body.slice(0, 139)}…` : body;
  const notification = new Notification(title, { body: text, tag: `parley-room-${roomId}` });
  notification.onclick = () => {
    window.focus();
    location.hash = `#/room/${roomId}`;
    notification.close();
  };
}
