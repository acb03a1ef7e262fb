"""Continual learning: task streams, the stream runner and the metrics every model is scored with."""

from gradfree.continual.metrics import average_accuracy, backward_transfer, forgetting
from gradfree.continual.runner import ContinualResult, run_stream, task_accuracy
from gradfree.continual.streams import Task, class_incremental, default_groups, task_incremental

__all__ = [
    "ContinualResult",
    "Task",
    "average_accuracy",
    "backward_transfer",
    "class_incremental",
    "default_groups",
    "forgetting",
    "run_stream",
    "task_accuracy",
    "task_incremental",
]
