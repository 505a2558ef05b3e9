// Parley's support widget, for any website:
//   <script src="https://parley.example/widget.js" data-parley-support="SUPPORT_ROOM_ID" async></script>
// It adds one iframe served by Parley (/support/widget/ID), which draws the launcher and the chat: the
// site's CSP needs only `script-src` and `frame-src` for Parley, and Parley's own pages keep theirs.
// This script only sizes the frame when the chat inside opens or closes (postMessage from Parley).
(() => {
  const script = document.currentScript || document.querySelector('script[data-parley-support]');
  const room = script && script.dataset.parleySupport;
  if (!room || !/^\d{1,18}$/.test(room)) return;
  const origin = new URL(script.src, document.baseURI).origin;
  const frame = document.createElement('iframe');
  frame.src = `${origin}/support/widget/${room}`;
  frame.title = (navigator.language || '').toLowerCase().startsWith('zh') ? '在线客服' : 'Support chat';
  frame.setAttribute('data-parley-widget', room);
  frame.allow = '';
  const sizes = {
    closed: { width: '88px', height: '88px' },
    open: { width: 'min(400px, 100vw)', height: 'min(640px, 100vh)' },
  };
  Object.assign(frame.style, {
    position: 'fixed', right: '0', bottom: '0', border: '0', zIndex: '2147483000',
    background: 'transparent', colorScheme: 'normal', ...sizes.closed,
  });
  window.addEventListener('message', (event) => {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    const state = event.data && event.data.parleyWidget;
    if (state in sizes) Object.assign(frame.style, sizes[state]);
  });
  const add = () => document.body.appendChild(frame);
  if (document.body) add();
  else document.addEventListener('DOMContentLoaded', add);
})();
