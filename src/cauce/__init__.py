"""cauce: cloud-style data pipelines — buckets, queues, topics, tables, streams, warehouses,
log streams, schedules, partitions and workers — as plain Python objects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_names as _lazy_names

if TYPE_CHECKING:
    from .app import App, Handler, Job
    from .backends.objects import ObjectStore
    from .clock import Clock, SimulatedClock, SystemClock
    from .context import Context
    from .durations import Duration
    from .errors import (
        CauceError,
        CheckpointConflict,
        CommandError,
        CommandFailed,
        CommandTimeout,
        ConditionFailed,
        ConfigError,
        DeclarationError,
        InvalidKey,
        NotAttached,
        NotFound,
        NotSerializable,
        ObjectNotFound,
        PartitionError,
        ResourceError,
        RunCancelled,
        StateError,
        WarehouseError,
    )
    from .events import BatchFailed, Message, ObjectRef, Record
    from .logs import LogLine
    from .partitions import Partitions, daily, monthly, weekly
    from .resources.bucket import Bucket
    from .resources.queue import Queue
    from .resources.stream import Stream, StreamInfo
    from .resources.table import Table
    from .resources.topic import Topic
    from .resources.warehouse import Warehouse
    from .runs import Run, RunStatus
    from .runtime.commands import CommandResult
    from .runtime.runtime import Runtime
    from .settings import Setting, Settings
    from .sinks import Sink
    from .warehouse.checkpoints import Checkpoint

__version__ = "0.1.0"

__all__ = [
    "App",
    "BatchFailed",
    "Bucket",
    "CauceError",
    "Checkpoint",
    "CheckpointConflict",
    "Clock",
    "CommandError",
    "CommandFailed",
    "CommandResult",
    "CommandTimeout",
    "ConditionFailed",
    "ConfigError",
    "Context",
    "DeclarationError",
    "Duration",
    "Handler",
    "InvalidKey",
    "Job",
    "LogLine",
    "Message",
    "NotAttached",
    "NotFound",
    "NotSerializable",
    "ObjectNotFound",
    "ObjectRef",
    "ObjectStore",
    "PartitionError",
    "Partitions",
    "Queue",
    "Record",
    "ResourceError",
    "Run",
    "RunCancelled",
    "RunStatus",
    "Runtime",
    "Setting",
    "Settings",
    "SimulatedClock",
    "Sink",
    "StateError",
    "Stream",
    "StreamInfo",
    "SystemClock",
    "Table",
    "Topic",
    "Warehouse",
    "WarehouseError",
    "daily",
    "monthly",
    "weekly",
]

# name -> defining module, imported on first access (PEP 562): `import cauce` and the command
# line's help pay only for what they use, not for the runtime and every resource.
_DEFINED_IN = {
    "App": "cauce.app",
    "Handler": "cauce.app",
    "Job": "cauce.app",
    "ObjectStore": "cauce.backends.objects",
    "Clock": "cauce.clock",
    "SimulatedClock": "cauce.clock",
    "SystemClock": "cauce.clock",
    "Context": "cauce.context",
    "Duration": "cauce.durations",
    "CauceError": "cauce.errors",
    "CheckpointConflict": "cauce.errors",
    "CommandError": "cauce.errors",
    "CommandFailed": "cauce.errors",
    "CommandTimeout": "cauce.errors",
    "ConditionFailed": "cauce.errors",
    "ConfigError": "cauce.errors",
    "DeclarationError": "cauce.errors",
    "InvalidKey": "cauce.errors",
    "NotAttached": "cauce.errors",
    "NotFound": "cauce.errors",
    "NotSerializable": "cauce.errors",
    "ObjectNotFound": "cauce.errors",
    "PartitionError": "cauce.errors",
    "ResourceError": "cauce.errors",
    "RunCancelled": "cauce.errors",
    "StateError": "cauce.errors",
    "WarehouseError": "cauce.errors",
    "BatchFailed": "cauce.events",
    "Message": "cauce.events",
    "ObjectRef": "cauce.events",
    "Record": "cauce.events",
    "LogLine": "cauce.logs",
    "Partitions": "cauce.partitions",
    "daily": "cauce.partitions",
    "monthly": "cauce.partitions",
    "weekly": "cauce.partitions",
    "Bucket": "cauce.resources.bucket",
    "Queue": "cauce.resources.queue",
    "Stream": "cauce.resources.stream",
    "StreamInfo": "cauce.resources.stream",
    "Table": "cauce.resources.table",
    "Topic": "cauce.resources.topic",
    "Warehouse": "cauce.resources.warehouse",
    "Run": "cauce.runs",
    "RunStatus": "cauce.runs",
    "CommandResult": "cauce.runtime.commands",
    "Runtime": "cauce.runtime.runtime",
    "Setting": "cauce.settings",
    "Settings": "cauce.settings",
    "Sink": "cauce.sinks",
    "Checkpoint": "cauce.warehouse.checkpoints",
}


__getattr__, __dir__ = _lazy_names(globals(), _DEFINED_IN, __all__)

