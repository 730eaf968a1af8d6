"""The room's actions and jobs (mmchat.actions): plain, frozen values the loop can trust."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from mmchat.actions import Action, CloseReason, CommandJob, HangUp, Job, Send


def test_every_action_and_job_is_frozen_and_slotted():
    for cls in (*typing.get_args(Action), *typing.get_args(Job)):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
        assert "__slots__" in cls.__dict__


def test_actions_compare_by_value():
    assert Send(1, b"x") == Send(1, b"x") != Send(2, b"x")
    assert HangUp(1, CloseReason.KICKED) != HangUp(1, CloseReason.REFUSED)


def test_a_job_cannot_be_changed_by_the_worker_that_runs_it():
    job = CommandJob(1, 2, "ls", "docs", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(job, "cwd", "elsewhere")  # noqa: B010


def test_close_reasons_read_as_words():
    assert [str(r) for r in CloseReason][:3] == ["left", "lost", "dropped"]
