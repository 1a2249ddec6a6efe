"""The one error type for bad user input: its message names the value and what is accepted."""


class ConfigError(ValueError):
    """A config value, path or file that cannot be used; the message is one line a user can act on."""


def check_choice(name: str, value, accepted) -> None:
    """Raise ConfigError unless `value` is one of `accepted`."""
    if value not in accepted:
        raise ConfigError(f"{name}={value!r} is not supported; accepted: {', '.join(map(str, accepted))}")


def check_power_of_two(name: str, value: int, minimum: int) -> int:
    """Raise ConfigError unless `value` is a power of two >= minimum; return log2(value)."""
    if not isinstance(value, int) or value < minimum or value & (value - 1):
        raise ConfigError(f"{name}={value!r} is not supported; accepted: a power of two >= {minimum}")
    return value.bit_length() - 1
