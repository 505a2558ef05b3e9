// 已离开的聊天室（只读，issue 10）的简体中文，与 former-en.js 的键一一对应，随 views/formerroom.js 加载。
export default {
  'former.left': '你已离开这个聊天室。',
  'former.hint': '你可以查看离开前的消息；重新加入即可查看之后的消息并发言。',
  'former.hintClosed': '你可以查看离开前的消息；这是私密聊天室，需要受到邀请才能回来。',
  'former.join': '重新加入',
  'former.older': '显示更早的消息',
  'former.endLine': '你在这里离开了。',
};
