# -*- coding: utf-8 -*-
# Copyright: gpufleet.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The numeric options of gpufleet.vllm.node_info and their limits, checked in one place: by the
action plugin on the controller before anything runs, and again by the module on the VM.

Python's float() accepts "nan", "inf" and "1e309" (infinity): none of them is a number of seconds
or lines, and NaN passes every comparison, so each value is checked to be finite and in range.

PRIVATE to the collection: not a public API, may change without notice.
Runs on the managed host too: stdlib only, Python >= 3.8.
"""

from __future__ import annotations

import math
from typing import Dict, NamedTuple, Optional, Union

Number = Union[int, float]


class OptionLimits(NamedTuple):
    minimum: float
    maximum: float
    above_minimum: bool  # the minimum itself is refused
    whole: bool
    unit: str


MAX_LOG_LINES = 10000
LIMITS: Dict[str, OptionLimits] = {
    "log_lines": OptionLimits(1, MAX_LOG_LINES, False, True, "lines"),
    "command_timeout": OptionLimits(0, 3600, True, False, "seconds"),
    "serving_fresh_after": OptionLimits(0, 86400, True, False, "seconds"),
    "refresh_interval": OptionLimits(0, 86400, False, False, "seconds"),
    "http_port": OptionLimits(1, 65535, False, True, "port"),
    "http_timeout": OptionLimits(0, 600, True, False, "seconds"),
}


class InvalidOption(ValueError):
    """An option value out of its limits; the message names the option and the limits."""


def _range_text(limits: OptionLimits) -> str:
    low = "above %g" % limits.minimum if limits.above_minimum else "from %g" % limits.minimum
    kind = "a whole number of" if limits.whole else "a number of"
    return "%s %s %s to %g" % (kind, limits.unit, low, limits.maximum)


def check_option(name: str, value: object) -> Optional[Number]:
    """VALUE of option NAME as a number within its limits (None stays None: not given).

    Accepts numbers and numeric text (extra vars arrive as text); raises InvalidOption for
    anything else: booleans, NaN, infinities, fractions of a whole-number option, values out of
    range."""
    if value is None:
        return None
    limits = LIMITS[name]
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        # str() of an integer over 4300 digits raises (Python >= 3.11).
        shown = "an integer of %d bits" % value.bit_length()
    else:
        shown = repr(value) if isinstance(value, str) else str(value)
    problem = InvalidOption("%s must be %s, got %s" % (name, _range_text(limits), shown[:40]))
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise problem
    if isinstance(value, int):
        number: Number = value
    else:
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (ValueError, OverflowError):
            raise problem from None
    try:
        if not math.isfinite(number):
            raise problem
    except OverflowError:  # an integer too large for a float: out of every range
        raise problem from None
    if limits.whole:
        if number != int(number):
            raise problem
        number = int(number)
    too_low = number <= limits.minimum if limits.above_minimum else number < limits.minimum
    if too_low or number > limits.maximum:
        raise problem
    return number
