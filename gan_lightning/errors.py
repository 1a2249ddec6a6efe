"""The one error type for bad user input: its message names the value and what is accepted."""
import math
from typing import Any


class ConfigError(ValueError):
    """A config value, path or file that cannot be used; the message is one line a user can act on."""


# The divergence guard's stop (training/divergence.py) says "<tensors> became NaN/inf" or "<tensors> passed
# module.max_abs_logit=<bound>" (or max_abs_weight); the report (report/runs.py) tells a diverged run from a
# failed one by these words in train.log's error line, so both read them from here.
NONFINITE = "became NaN/inf"
PAST_BOUND = "passed module.max_abs_"  # + "logit=<bound>" or "weight=<bound>"


def check_choice(name: str, value, accepted) -> None:
    """Raise ConfigError unless `value` is one of `accepted`."""
    if value not in accepted:
        raise ConfigError(f"{name}={value!r} is not supported; accepted: {', '.join(map(str, accepted))}")


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None, *,
                 integer: bool = False, above: bool = False, nullable: bool = False) -> Any:
    """Raise ConfigError unless `value` is a number (an integer if `integer`) >= low (> low if `above`) and
    <= high, or None when `nullable`; return it. The message says what is accepted."""
    if value is None and nullable:
        return value
    number = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
    if number and not math.isnan(value) and (low is None or (value > low if above else value >= low)) \
            and (high is None or value <= high):
        return value
    bounds = [f"{'>' if above else '>='} {low}" if low is not None else "", f"<= {high}" if high is not None else ""]
    accepted = " and ".join([b for b in bounds if b]).join(["an integer " if integer else "a number ", ""]).strip()
    raise ConfigError(f"{name}={value!r} is not supported; accepted: {accepted}{' or null' if nullable else ''}")


def check_power_of_two(name: str, value: int, minimum: int) -> int:
    """Raise ConfigError unless `value` is a power of two >= minimum; return log2(value)."""
    if not isinstance(value, int) or value < minimum or value & (value - 1):
        raise ConfigError(f"{name}={value!r} is not supported; accepted: a power of two >= {minimum}")
    return value.bit_length() - 1
