"""A faust worker that records the order in which its agent receives records.

It reads ``ORDER_INPUT_TOPIC`` and writes ``<offset>:<value>`` for every record it receives
to ``ORDER_OUTPUT_TOPIC``. A record whose value is ``jump:<N>`` makes it move the fetch
position to offset N behind the consumer's back, the first time it is read: the next fetch
then starts ahead of the records still owed, as a batch fetched before a rebalance does.
Fetches are kept small (``consumer_max_fetch_size``) so that most records are still to be
fetched when the jump happens. Run as a script, it is a real worker started by run_worker.
"""

from __future__ import annotations

import os
from typing import Any

import faust

from mediawatch.runtime.settings import ServiceSettings, load_settings
from mediawatch.runtime.streaming import make_app, raw_topic
from mediawatch.runtime.worker import run_worker

settings = load_settings(ServiceSettings, service_name="order-test")
app = make_app(settings, os.environ["ORDER_APP_ID"], consumer_max_fetch_size=64 * 1024)
source = raw_topic(app, os.environ["ORDER_INPUT_TOPIC"])
output = raw_topic(app, os.environ["ORDER_OUTPUT_TOPIC"])
jumped_from: set[int] = set()


@app.agent(source, name="record-order")
async def record_order(stream: faust.StreamT[Any]) -> None:
    async for record in stream.events():
        message = record.message
        value: bytes = message.value
        await output.send(value=b"%d:%s" % (message.offset, value[:40]))
        if value.startswith(b"jump:") and message.offset not in jumped_from:
            jumped_from.add(message.offset)
            await app.consumer.seek_wait({message.tp: int(value.split(b":")[1])})


if __name__ == "__main__":
    run_worker(app, settings)
