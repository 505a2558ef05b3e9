// English strings of calls (issue 13), loaded with views/call.js (i18n.js loadStrings).
export default {
  'call.title': 'Call',
  'call.running': 'A call is in progress ({count} in it)',
  'call.join': 'Join',
  'call.incoming': '{user} is calling',
  'call.accept': 'Accept',
  'call.decline': 'Decline',
  'call.you': 'You',
  'call.mute': 'Mute the microphone',
  'call.camera': 'Turn the camera off',
  'call.share': 'Share the screen',
  'call.devices': 'Microphone and camera',
  'call.microphone': 'Microphone',
  'call.cameraDevice': 'Camera',
  'call.hangup': 'Hang up',
  'call.reconnecting': 'Reconnecting… the call goes on',
  'call.full': 'This call is full (8 people at most)',
};
