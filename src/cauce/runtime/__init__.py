"""Execution: the runtime, its scheduler, dispatcher and workers."""
