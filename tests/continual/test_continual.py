"""Continual-learning protocol: streams, metrics on hand-made matrices, the runner and its resume."""

from __future__ import annotations

import numpy as np
import pytest

from gradfree import NearestClassMean
from gradfree.continual import (
    average_accuracy,
    backward_transfer,
    class_incremental,
    forgetting,
    run_stream,
    task_incremental,
)

R = np.array([
    [0.9, 0.1, 0.0],
    [0.6, 0.8, 0.2],
    [0.5, 0.7, 1.0],
])


def test_metrics_on_a_hand_made_matrix():
    assert average_accuracy(R) == pytest.approx((0.5 + 0.7 + 1.0) / 3)
    np.testing.assert_allclose(forgetting(R), [0.9 - 0.5, 0.8 - 0.7])
    assert backward_transfer(R) == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)


def test_forgetting_uses_the_best_earlier_accuracy():
    R2 = np.array([[0.2, 0, 0], [0.9, 0.5, 0], [0.4, 0.5, 0.8]])
    # Task 1 peaked after task 2 (0.9), ended at 0.4; BWT compares with R[0,0]=0.2 instead.
    np.testing.assert_allclose(forgetting(R2), [0.5, 0.0])
    assert backward_transfer(R2) == pytest.approx(((0.4 - 0.2) + 0.0) / 2)


def test_no_forgetting_and_single_task():
    eye = np.tril(np.ones((4, 4)))
    assert np.all(forgetting(eye) == 0) and backward_transfer(eye) == 0 and average_accuracy(eye) == 1
    assert backward_transfer(np.array([[0.7]])) == 0.0 and forgetting(np.array([[0.7]])).size == 0
    with pytest.raises(ValueError, match="square"):
        average_accuracy(np.ones((2, 3)))


def test_class_incremental_split(digits):
    X, y = digits
    tasks = class_incremental(X, y)
    assert [t.classes for t in tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert sum(len(t) for t in tasks) == len(y)
    for t in tasks:
        assert set(np.unique(t.y)) == set(t.classes)
    custom = class_incremental(X, y, groups=[[9, 0], [5]])
    assert len(custom) == 2 and sum(len(t) for t in custom) == np.isin(y, [9, 0, 5]).sum()
    with pytest.raises(ValueError, match="more than one group"):
        class_incremental(X, y, groups=[[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="n_tasks"):
        class_incremental(X, y, n_tasks=11)


def test_run_stream_with_ncm(digits):
    X, y = digits
    tasks = class_incremental(X, y)
    res = run_stream(NearestClassMean(), tasks, progress=False)
    assert res.R.shape == (5, 5)
    assert np.all(np.triu(res.R, 1) == 0)  # classes not seen yet are never predicted
    assert res.average_accuracy > 0.8
    d = res.to_dict()
    assert d["average_accuracy"] == res.average_accuracy and len(d["forgetting"]) == 4


def test_task_incremental_is_easier_than_class_incremental(digits):
    X, y = digits
    cls = run_stream(NearestClassMean(), class_incremental(X, y), progress=False)
    task = run_stream(NearestClassMean(), task_incremental(X, y), scenario="task", progress=False)
    assert task.average_accuracy >= cls.average_accuracy
    assert np.all(np.diag(task.R) >= np.diag(cls.R))


class _Interrupted(Exception):
    pass


def _interrupt_after(task_index: int):
    def hook(t, model):
        if t == task_index:
            raise _Interrupted

    return hook


def test_resume_from_checkpoint_equals_uninterrupted(digits, tmp_path):
    X, y = digits
    tasks = class_incremental(X, y)
    full = run_stream(NearestClassMean(), tasks, progress=False)
    with pytest.raises(_Interrupted):
        run_stream(NearestClassMean(), tasks, checkpoint_dir=tmp_path, progress=False,
                   on_task_end=_interrupt_after(2))
    resumed = run_stream(NearestClassMean(), tasks, checkpoint_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(resumed.R, full.R)
    np.testing.assert_array_equal(resumed.model.sums_.numpy(), full.model.sums_.numpy())


def test_run_stream_validates():
    with pytest.raises(ValueError, match="scenario"):
        run_stream(NearestClassMean(), [], scenario="domain")
    with pytest.raises(ValueError, match="no tasks"):
        run_stream(NearestClassMean(), [])
