// Desktop notifications for mentions and direct messages, shown only while the tab is hidden.

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

/** Shows a notification (plain text only) that opens the room when clicked. */
export function notify(title, body, roomId) {
  if (!document.hidden || notificationPermission() !== 'granted') return;
  const text = body.length > 140 ? `${body.slice(0, 139)}…` : body;
  const notification = new Notification(title, { body: text, tag: `parley-room-${roomId}` });
  notification.onclick = () => {
    window.focus();
    location.hash = `#/room/${roomId}`;
    notification.close();
  };
}
