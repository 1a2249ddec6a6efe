"""Schedules as pure functions of the images-seen clock."""

from collections.abc import Mapping
from dataclasses import dataclass

from gan_lightning.errors import ConfigError, check_power_of_two


def crossed(nimg: int, batch_nimg: int, every_nimg: int) -> bool:
    """Whether the last batch (batch_nimg images, ending at nimg) crossed a multiple of every_nimg."""
    return every_nimg > 0 and nimg // every_nimg > (nimg - batch_nimg) // every_nimg


def run_finished(nimg: int, g_steps: int, total_kimg: float | None, total_g_steps: int | None) -> bool:
    """Whether a run of total_kimg (images) or total_g_steps (G steps), whichever comes first, is done."""
    if total_g_steps is not None and g_steps >= total_g_steps:
        return True
    return total_kimg is not None and nimg >= total_kimg * 1000


def run_progress(nimg: int, g_steps: int, total_kimg: float | None, total_g_steps: int | None) -> float:
    """How far a run is, 0 to 1, by whichever of its limits comes first (0 for an open-ended run)."""
    shares = [0.0]
    if total_kimg:
        shares.append(nimg / (total_kimg * 1000))
    if total_g_steps:
        shares.append(g_steps / total_g_steps)
    return min(1.0, max(shares))


@dataclass(frozen=True)
class Stage:
    """What a progressive schedule asks for at one point of the clock."""

    resolution: int  # the resolution the nets work at
    alpha: float  # fade-in weight of the newest block: rises 0 -> 1 in a transition, 1 when stable
    batch_size: int  # per process
    lr: float | None  # for every optimizer; None keeps each optimizer's configured rate


class ProgressiveSchedule:
    """Progressive growing as a pure function of the images-seen clock (PGGAN sec. 3, Appendix A.1).

    Training starts stable at `start_resolution`; then each doubling fades in over `transition_kimg`
    (alpha 0 -> 1) and stays stable for `stable_kimg`, up to `final_resolution`, which then lasts for the
    rest of the run. `batch_sizes` and `lr` map a resolution to its batch size per process and its
    learning rate; resolutions they do not list use `batch_size` and the optimizers' own rates. During a
    transition the new resolution's values apply, as in the official code.
    """

    def __init__(
        self,
        final_resolution: int,
        batch_size: int,
        stable_kimg: float = 600.0,
        transition_kimg: float = 600.0,
        start_resolution: int = 4,
        batch_sizes: Mapping[int, int] | None = None,
        lr: Mapping[int, float] | None = None,
        name: str = "arch.schedule",
    ) -> None:
        log_start = check_power_of_two(f"{name}.start_resolution", start_resolution, 1)
        log_final = check_power_of_two(f"{name}.final_resolution", final_resolution, 1)
        if log_final < log_start:
            raise ConfigError(f"{name}.final_resolution={final_resolution!r} is not supported; "
                              f"accepted: a power of two >= start_resolution={start_resolution}")
        for key, value in (("stable_kimg", stable_kimg), ("transition_kimg", transition_kimg)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{name}.{key}={value!r} is not supported; accepted: a number >= 0")
        self.resolutions = [2**k for k in range(log_start, log_final + 1)]
        self.stable_nimg = round(stable_kimg * 1000)
        self.transition_nimg = round(transition_kimg * 1000)
        self.batch_size = batch_size
        self.batch_sizes = {self._key(name, "batch_sizes", k): v for k, v in (batch_sizes or {}).items()}
        self.lr = {self._key(name, "lr", k): float(v) for k, v in (lr or {}).items()}
        for key, value in [("batch_size", batch_size), *((f"batch_sizes.{k}", v) for k, v in self.batch_sizes.items())]:
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}.{key}={value!r} is not supported; accepted: an integer >= 1")

    def _key(self, name: str, table: str, key) -> int:
        """A resolution key of `batch_sizes` or `lr` (YAML may give it as a string); outside the run's range is fine."""
        if str(key).isdigit() and int(key) > 0 and not int(key) & (int(key) - 1):
            return int(key)
        raise ConfigError(f"{name}.{table} has key {key!r}; accepted: resolutions (powers of two) such as "
                          f"{', '.join(map(str, self.resolutions))}")

    @property
    def grown_nimg(self) -> int:
        """The clock at which the final resolution is fully faded in."""
        return (len(self.resolutions) - 1) * (self.stable_nimg + self.transition_nimg)

    def resolution_alpha(self, nimg: int) -> tuple[int, float]:
        """The resolution and fade-in alpha at `nimg`."""
        cycle = self.stable_nimg + self.transition_nimg  # stable at one resolution, then fade in the next
        if cycle == 0 or nimg >= self.grown_nimg:
            return self.resolutions[-1], 1.0
        level, into = divmod(nimg, cycle)
        if into < self.stable_nimg:
            return self.resolutions[level], 1.0
        return self.resolutions[level + 1], (into - self.stable_nimg) / self.transition_nimg

    def batch_size_at(self, nimg: int) -> int:
        """The batch size per process for the batch that starts at `nimg`."""
        return self.batch_sizes.get(self.resolution_alpha(nimg)[0], self.batch_size)

    def at(self, nimg: int) -> Stage:
        """Everything the schedule sets for the batch that starts at `nimg`."""
        resolution, alpha = self.resolution_alpha(nimg)
        return Stage(resolution, alpha, self.batch_sizes.get(resolution, self.batch_size), self.lr.get(resolution))
