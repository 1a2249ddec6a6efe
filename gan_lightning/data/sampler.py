"""An endless, resumable batch sampler whose batches are a pure function of (seed, batch index)."""

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from gan_lightning.errors import ConfigError


def check_int(name: str, value: int, minimum: int) -> int:
    """Raise ConfigError unless `value` is an integer >= minimum; return it."""
    if not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}={value!r} is not supported; accepted: an integer >= {minimum}")
    return value


class InfiniteBatchSampler(Sampler[list[int]]):
    """Endless index batches: epoch e is randperm(num_items, seed + e); batch t on rank r is one slice of it."""

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        start_batch: int = 0,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank={rank!r} is not supported; accepted: 0 <= rank < world_size={world_size}")
        self.num_items = check_int("dataset.num_items", num_items, 1)
        self.batch_size = check_int("dataset.batch_size", batch_size, 1)
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch  # read when iteration starts, so a resumed run can set it late
        self._epoch = -1
        self._perm = torch.empty(0, dtype=torch.int64)

    def permutation(self, epoch: int) -> torch.Tensor:
        """The order of epoch `epoch`; the latest one is cached."""
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            self._perm = torch.randperm(self.num_items, generator=generator)
            self._epoch = epoch
        return self._perm

    def batch(self, t: int) -> list[int]:
        """The indices of batch `t` on this rank."""
        start = (t * self.world_size + self.rank) * self.batch_size
        positions = torch.arange(start, start + self.batch_size)  # global sample positions k
        epochs = positions // self.num_items
        indices = torch.empty_like(positions)
        # a batch spans one epoch, or a few when batch_size is close to or above num_items
        for epoch in epochs.unique().tolist():
            mask = epochs == epoch
            indices[mask] = self.permutation(epoch)[positions[mask] % self.num_items]
        return indices.tolist()

    def __iter__(self) -> Iterator[list[int]]:
        t = int(self.start_batch)
        while True:
            yield self.batch(t)
            t += 1
