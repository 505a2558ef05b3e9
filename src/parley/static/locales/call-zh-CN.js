// 通话（issue 13）的简体中文字符串，随 views/call.js 加载（i18n.js loadStrings）。
export default {
  'call.title': '通话',
  'call.running': '通话进行中（{count} 人）',
  'call.join': '加入',
  'call.incoming': '{user} 来电',
  'call.accept': '接听',
  'call.decline': '拒绝',
  'call.you': '你',
  'call.mute': '关闭麦克风',
  'call.camera': '关闭摄像头',
  'call.share': '共享屏幕',
  'call.devices': '麦克风和摄像头',
  'call.microphone': '麦克风',
  'call.cameraDevice': '摄像头',
  'call.hangup': '挂断',
  'call.reconnecting': '正在重新连接……通话继续',
  'call.full': '此通话已满（最多 8 人）',
};
