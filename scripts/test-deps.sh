#!/usr/bin/env bash
# Installs what the test suite needs beyond the venv: Debian's Chromium (browser tests) and nginx
# (multi-node tests), coturn (call tests), CJK and emoji fonts, when missing. PostgreSQL and Redis are the machine's own services; the tests
# that need them fail loudly when they are not there.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v sqlite3 >/dev/null || need+=(sqlite3)
# The event stream's broker-restart test starts a RabbitMQ node of its own (tests/support/rabbit.py);
# the machine's broker on 5672, like PostgreSQL and Redis, is the machine's own service.
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
# A TURN relay for the call tests (issue 13): coturn, started by the test on loopback.
command -v turnserver >/dev/null || [ -x /usr/bin/turnserver ] || need+=(coturn)
# Chinese and emoji glyphs for the browser tests and screenshots (zh-CN, emoji in names).
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
