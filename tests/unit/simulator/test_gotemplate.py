# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Go text/template subset (fakegpu.gotemplate), in-process, table-driven."""

from __future__ import annotations

import pytest

from fakegpu.gotemplate import TemplateError, execute, parse

DOCUMENT = {
    "Name": "/vllm",
    "RestartCount": 3,
    "State": {"Status": "running", "Running": True, "OOMKilled": False, "ExitCode": 0,
              "Error": ""},
    "Config": {"Image": "vllm/vllm-openai:latest", "Env": ["A=1", "B=2"]},
}
HEALTHY = dict(DOCUMENT, State=dict(DOCUMENT["State"], Health={"Status": "healthy",
                                                               "FailingStreak": 0}))


def render(template, data):
    return execute(template, parse(template), data)


@pytest.mark.parametrize("template, data, expected", [
    ("{{.State.Status}}", DOCUMENT, "running"),
    ("{{.State.Running}} {{.State.OOMKilled}} {{.RestartCount}}", DOCUMENT, "true false 3"),
    ("{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", DOCUMENT, "none"),
    ("{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", HEALTHY, "healthy"),
    ("{{.State.Health}}", DOCUMENT, "<nil>"),
    ("{{json .State.Health}}", DOCUMENT, "null"),
    ("{{json .State}}", DOCUMENT,
     '{"Status":"running","Running":true,"OOMKilled":false,"ExitCode":0,"Error":""}'),
    ("{{json .Config.Env}}", DOCUMENT, '["A=1","B=2"]'),
    ("{{.Config.Env}}", DOCUMENT, "[A=1 B=2]"),
    ("{{.State.Health}}", HEALTHY, "map[FailingStreak:0 Status:healthy]"),
    ("{{if .State.Error}}err{{else if .State.Running}}up{{else}}down{{end}}", DOCUMENT, "up"),
    ("{{if eq .State.Status \"exited\"}}x{{else}}y{{end}}", DOCUMENT, "y"),
    ("{{.Config.Image | upper}}", DOCUMENT, "VLLM/VLLM-OPENAI:LATEST"),
    ("{{join .Config.Env \",\"}}", DOCUMENT, "A=1,B=2"),
    ("{{len .Config.Env}} {{not .State.Running}}", DOCUMENT, "2 false"),
    ("a  {{- .Name -}}  b", DOCUMENT, "a/vllmb"),
    ("{{.}}", {"x": 1}, "map[x:1]"),
])
def test_render(template, data, expected):
    assert render(template, data) == expected


@pytest.mark.parametrize("template, message", [
    # formats.md 5: the column is the 0-based offset of the chain's second field.
    ("{{.State.Status}} {{.State.Health.Status}} {{.RestartCount}}",
     'template: :1:26: executing "" at <.State.Health.Status>: map has no entry for key "Health"'),
    ("{{.State.Health.Status}}",
     'template: :1:8: executing "" at <.State.Health.Status>: map has no entry for key "Health"'),
    ("abc {{.State.Health.Status}}",
     'template: :1:12: executing "" at <.State.Health.Status>: map has no entry for key "Health"'),
    ("x\n{{.State.Health.Status}}",
     'template: :2:8: executing "" at <.State.Health.Status>: map has no entry for key "Health"'),
    ("{{.Nope}}", 'template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"'),
    ("{{.State.Status.Deeper}}",
     'template: :1:8: executing "" at <.State.Status.Deeper>: can\'t evaluate field Deeper in '
     'type string'),
    ("{{.State.Status", "template: :1: unclosed action"),
    ("{{if .State.Running}}x", "template: :1: unexpected EOF"),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{else}}", "template: :1: unexpected {{else}}"),
    ("{{printf \"%s\" .Name}}", 'template: :1: function "printf" not defined'),
    ("{{}}", "template: :1: missing value for command"),
    ("{{range .Config.Env}}{{.}}{{end}}",
     "template: :1: {{range}} is not supported by the fakegpu simulator"),
])
def test_errors(template, message):
    with pytest.raises(TemplateError) as caught:
        render(template, DOCUMENT)
    assert str(caught.value) == message
