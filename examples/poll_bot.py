"""A poll bot: `/poll Lunch? | pizza | sushi | salad` posts the question with numbered options, and
keeps the count of the 1️⃣ 2️⃣ 3️⃣ ... reactions people add; `/results` posts the tally of the
room's latest poll. Votes are counted from the room's events (`reaction_added` / `reaction_removed`),
which the bot receives like everyone else, resumed after a reconnect.

    PARLEY_URL=http://127.0.0.1:8000 PARLEY_BOT_TOKEN=pbot_... python examples/poll_bot.py
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from parley.bot import Bot, Message

NUMBERS = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣"]


class Poll:
    def __init__(self, question: str, options: list[str]) -> None:
        self.question = question
        self.options = options
        self.votes: dict[str, set[int]] = {n: set() for n in NUMBERS[:len(options)]}

    def tally(self) -> str:
        lines = [f"Results: {self.question}"]
        for emoji, option in zip(NUMBERS, self.options, strict=False):
            lines.append(f"{emoji} {option}: {len(self.votes[emoji])}")
        return "\n".join(lines)


def make_bot(url: str, token: str) -> Bot:
    bot = Bot(url, token)
    polls: dict[tuple[int, int], Poll] = {}  # (room, seq of the poll message)
    latest: dict[int, int] = {}  # room -> seq of its latest poll

    @bot.on_command("poll")
    async def poll(message: Message, args: str) -> None:
        parts = [p.strip() for p in args.split("|") if p.strip()]
        if len(parts) < 3 or len(parts) > len(NUMBERS) + 1:
            await message.reply("usage: /poll question | option | option [| ...] (2 to 9 options)")
            return
        question, options = parts[0], parts[1:]
        text = "\n".join([f"📊 {question}", *(f"{NUMBERS[i]} {o}" for i, o in enumerate(options))])
        ack = await bot.send(message.room, text)
        polls[(message.room, ack["seq"])] = Poll(question, options)
        latest[message.room] = ack["seq"]
        for emoji in NUMBERS[:len(options)]:  # the buttons people press
            await bot.react(message.room, ack["seq"], emoji)

    @bot.on_command("results")
    async def results(message: Message, args: str) -> None:
        seq = latest.get(message.room)
        await message.reply(polls[(message.room, seq)].tally() if seq else "no poll in this room yet")

    @bot.on_event
    async def vote(event: dict[str, Any]) -> None:
        if event["type"] not in ("reaction_added", "reaction_removed") or event.get("user") == (bot.user or {}).get("id"):
            return
        found = polls.get((event["room"], event["target"]))
        if found is None or event["emoji"] not in found.votes:
            return
        if event["type"] == "reaction_added":
            found.votes[event["emoji"]].add(event["user"])
        else:
            found.votes[event["emoji"]].discard(event["user"])

    return bot


async def main() -> None:
    bot = make_bot(os.environ.get("PARLEY_URL", "http://127.0.0.1:8000"), os.environ["PARLEY_BOT_TOKEN"])

    async def register() -> None:
        await bot.wait_connected(30)
        await bot.register_commands({"poll": "start a poll: question | option | option",
                                     "results": "the latest poll's tally"})

    await asyncio.gather(bot.run(), register())


if __name__ == "__main__":
    asyncio.run(main())
