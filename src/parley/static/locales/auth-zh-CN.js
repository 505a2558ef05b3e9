// Chinese strings of the sign-in view (views/auth.js loads them: loadStrings('auth')).
export default {
  'app.tagline': '在你自己的服务器上，和你的人聊天。',
  'auth.choose': '登录或注册',
  'auth.login': '登录',
  'auth.register': '注册',
  'auth.loginTitle': '欢迎回来',
  'auth.registerTitle': '创建账号',
  'auth.usernameHint': '3 到 32 个字母、数字、“_”、“-”或“.”',
  'auth.password': '密码',
  'auth.displayName': '显示名称（可选）',
  'auth.displayNameHint': '别人看到的名字，可以留空。',
  'auth.failed': '用户名或密码错误。',
  'auth.invite': '邀请码',
  'auth.closed': '此服务器已关闭注册。',
  'auth.inviteRefused': '此邀请码不存在、已用完或已过期。',
};
