"""``cauce send``, ``publish`` and ``put``: put work into an app from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ..errors import CauceError
from ..resources.bucket import Bucket
from ..resources.queue import Queue
from ..resources.topic import Topic
from . import console
from .home import HomeOption, StateOption, attached


def send_command(app_ref: str = typer.Argument(..., metavar="APP"),
                 queue: str = typer.Argument(..., metavar="QUEUE"),
                 body: str = typer.Argument(..., metavar="JSON"),
                 home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Send one JSON message to a queue. Example: cauce send demo work '{"key": "in/a.csv"}'"""
    with attached(app_ref, home, state_option) as rt:
        message_id = rt.app.get_resource(queue, Queue).send(_json_arg(body))
    console.out.print(f"sent message {message_id}")


def publish_command(app_ref: str = typer.Argument(..., metavar="APP"),
                    topic: str = typer.Argument(..., metavar="TOPIC"),
                    body: str = typer.Argument(..., metavar="JSON"),
                    home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Publish one JSON message to a topic. Example: cauce publish demo events '{"n": 1}'"""
    with attached(app_ref, home, state_option) as rt:
        event_id = rt.app.get_resource(topic, Topic).publish(_json_arg(body))
    console.out.print(f"published event {event_id}")


def put_command(app_ref: str = typer.Argument(..., metavar="APP"),
                bucket: str = typer.Argument(..., metavar="BUCKET"),
                key: str = typer.Argument(..., metavar="KEY"),
                file: Path = typer.Argument(..., metavar="FILE"),
                home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Store a local file in a bucket (which emits object-created). Example: cauce put demo inbox in/a.csv a.csv"""  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
    with attached(app_ref, home, state_option) as rt:
        ref = rt.app.get_resource(bucket, Bucket).put_file(key, file)
    console.out.print(f"stored {ref.key} ({ref.size:,} bytes) in bucket {bucket}")


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CauceError(f"the message is not valid JSON: {err.msg} at character {err.pos}",
                         hint="""quote it for the shell: '{"key": "value"}'""") from None
