"""Topic: publish once, deliver to every subscriber (handlers and queues), each retried alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DeclarationError
from .base import Resource, to_json
from .queue import Queue

if TYPE_CHECKING:
    from ..app import App


class Topic(Resource):
    """A fan-out point. Subscribed handlers and queues each get their own copy of a message."""

    kind = "topic"

    def __init__(self, app: App, name: str, *, subscribers: Sequence[Queue] = ()) -> None:
        super().__init__(app, name)
        self.queues: list[Queue] = []
        for queue in subscribers:
            self.subscribe(queue)

    def subscribe(self, queue: Queue) -> None:
        """Deliver every message published here to ``queue`` as well (declaration time)."""
        if not isinstance(queue, Queue) or queue.app is not self.app:
            raise DeclarationError(
                f"topic {self.name!r} can only be subscribed by queues of app {self.app.name!r}",
                hint="declare the queue with app.queue(...) first",
            )
        if queue not in self.queues:
            self.queues.append(queue)

    def subscribed(self) -> bool:
        """Whether a message published here reaches anyone: a handler on the topic or a queue
        subscribed to it (with neither, it is kept nowhere, as in SNS)."""
        return bool(self.queues or self.app.handlers_of(self))

    def publish(self, body: Any) -> str:
        """Publish one message; returns the event id every subscriber sees."""
        text = to_json(body, f"a message for topic {self.name!r}")
        return self._runtime().publish(self, text)
