// English strings of a room I left, read-only (issue 10), loaded with views/formerroom.js (i18n.js loadStrings).
export default {
  'former.left': 'You left this room.',
  'former.hint': 'You can read what was said until you left; join again to see the rest and to write.',
  'former.hintClosed': 'You can read what was said until you left; the room is private, so it takes an invitation to come back.',
  'former.join': 'Join again',
  'former.older': 'Show older messages',
  'former.endLine': 'You left here.',
};
