"""The state's waits for a lock held elsewhere and the `.env` lines skipped, said on stderr
while a command runs.

Imported when a command starts, and `logging` with it: `cauce --help` needs neither.
"""

from __future__ import annotations

import logging

from . import console


class SaidOnStderr(logging.Handler):
    """A warning line on stderr, whatever the command (the state's waits for locks, the
    skipped lines of `.env`)."""

    def emit(self, record: logging.LogRecord) -> None:
        console.err.print(f"warning: {record.getMessage()}", markup=False, soft_wrap=True)


# the loggers whose warnings each command says, whether or not it shows a log
SAID = ("cauce.state.waits", "cauce.config")


def say_warnings() -> None:
    """From now on, each wait of the state for a lock and each skipped `.env` line is one line
    on stderr (said once, here, however often this is called, and not again by a serving
    process's log)."""
    for name in SAID:
        logger = logging.getLogger(name)
        if not any(isinstance(h, SaidOnStderr) for h in logger.handlers):
            logger.addHandler(SaidOnStderr(logging.WARNING))
            logger.propagate = False
