"""cauce: cloud-style data pipelines — buckets, queues, topics, tables, streams, warehouses,
log streams, schedules, partitions and workers — as plain Python objects."""

from .app import App, Handler, Job
from .backends.objects import ObjectStore
from .clock import Clock, SimulatedClock, SystemClock
from .context import Context
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
