// English strings of the sign-in view (views/auth.js loads them: loadStrings('auth')).
export default {
  'app.tagline': 'Chat with your people, on your own server.',
  'auth.choose': 'Log in or register',
  'auth.login': 'Log in',
  'auth.register': 'Register',
  'auth.loginTitle': 'Welcome back',
  'auth.registerTitle': 'Create your account',
  'auth.usernameHint': '3 to 32 letters, digits, “_”, “-” or “.”',
  'auth.password': 'Password',
  'auth.displayName': 'Display name (optional)',
  'auth.displayNameHint': 'How others see you; you can leave it empty.',
  'auth.failed': 'Wrong username or password.',
  'auth.invite': 'Invite code',
  'auth.closed': 'Registration is closed on this server.',
  'auth.inviteRefused': 'This invite code is unknown, used up or expired.',
};
