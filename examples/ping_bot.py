"""A ping/echo bot: answers "ping" with "pong", echoes "/echo <text>", and reacts 👋 when mentioned.

    PARLEY_URL=http://127.0.0.1:8000 PARLEY_BOT_TOKEN=pbot_... python examples/ping_bot.py

Create the bot and its token in the client (Settings -> Bots) or with `POST /api/v1/bots`, then
add it to a room (the room's member panel -> Add bot, or `POST /api/v1/rooms/{id}/bots`).
"""

from __future__ import annotations

import asyncio
import os

from parley.bot import Bot, Message


def make_bot(url: str, token: str) -> Bot:
    bot = Bot(url, token)

    @bot.on_message
    async def ping(message: Message) -> None:
        if message.text.strip().lower() == "ping":
            await message.reply("pong")
        elif message.mentioned:
            await message.react("👋")

    @bot.on_command("echo")
    async def echo(message: Message, args: str) -> None:
        await message.reply(args or "(nothing to echo)")

    return bot


async def main() -> None:
    bot = make_bot(os.environ.get("PARLEY_URL", "http://127.0.0.1:8000"), os.environ["PARLEY_BOT_TOKEN"])
    await asyncio.gather(bot.run(), _register(bot))


async def _register(bot: Bot) -> None:
    await bot.wait_connected(30)
    await bot.register_commands({"echo": "say it back"})


if __name__ == "__main__":
    asyncio.run(main())
