# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of gpufleet.vllm.watch_settings: validate the watch's settings, connect to
nothing; and check that the dashboard is the stdout callback. An action plugin rather than a
callback check because a callback cannot stop a run (Ansible turns a callback's exception into a
warning); a failed task with any_errors_fatal does, before the polling task starts."""

from __future__ import annotations

import os

from ansible import constants as C
from ansible.plugins.action import ActionBase

from ansible_collections.gpufleet.vllm.plugins.plugin_utils._stdout_callback import dashboard_callback_problem
from ansible_collections.gpufleet.vllm.plugins.plugin_utils._watch_settings import SettingsError, watch_settings


class ActionModule(ActionBase):
    _supports_check_mode = True
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # Without the dashboard the polling task's every retry would print "FAILED - RETRYING" and a
        # JSON document per host: stop first, saying how to turn the dashboard on.
        problem = dashboard_callback_problem(C.config.get_config_value("DEFAULT_STDOUT_CALLBACK"), os.environ)
        if problem:
            result.update(failed=True, msg=problem)
            return result
        try:
            settings = watch_settings(self._task.args, os.environ)
        except SettingsError as exc:
            result.update(failed=True, msg="watch settings: %s" % exc)
            return result
        result.update(changed=False, settings=settings.as_result())
        return result
