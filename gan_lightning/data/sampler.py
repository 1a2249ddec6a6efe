"""An endless, resumable batch sampler whose batches are a pure function of (seed, batch index)."""

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Sampler

from gan_lightning.errors import ConfigError


def check_int(name: str, value: int, minimum: int) -> int:
    """Raise ConfigError unless `value` is an integer >= minimum; return it."""
    if not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}={value!r} is not supported; accepted: an integer >= {minimum}")
    return value


class InfiniteBatchSampler(Sampler[list[int]]):
    """Endless index batches over the stream `randperm(num_items, seed + e)` for epochs e = 0, 1, ...

    Positions in the stream count images over all ranks, like the images-seen clock. A batch starting at
    position p with per-rank size b gives rank r the positions [p + r * b, p + (r + 1) * b); the next batch
    starts at p + world_size * b. `batch_size_fn(p)`, when given, picks b (a schedule's per-resolution batch
    size), so the data order stays a pure function of the clock. Iteration starts at `start_nimg`, or with a
    fixed batch size at batch `start_batch`; both are read when iteration starts, so a resumed run can set
    them late.
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        start_batch: int = 0,
        start_nimg: int | None = None,
        batch_size_fn: Callable[[int], int] | None = None,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank={rank!r} is not supported; accepted: 0 <= rank < world_size={world_size}")
        self.num_items = check_int("dataset.num_items", num_items, 1)
        self.batch_size = check_int("dataset.batch_size", batch_size, 1)
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch
        self.start_nimg = start_nimg
        self.batch_size_fn = batch_size_fn
        self._epoch = -1
        self._perm = torch.empty(0, dtype=torch.int64)

    def permutation(self, epoch: int) -> torch.Tensor:
        """The order of epoch `epoch`; the latest one is cached."""
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            self._perm = torch.randperm(self.num_items, generator=generator)
            self._epoch = epoch
        return self._perm

    def indices(self, start: int, count: int) -> list[int]:
        """The dataset indices at stream positions start, ..., start + count - 1."""
        positions = torch.arange(start, start + count)
        epochs = positions // self.num_items
        indices = torch.empty_like(positions)
        # a batch spans one epoch, or a few when batch_size is close to or above num_items
        for epoch in epochs.unique().tolist():
            mask = epochs == epoch
            indices[mask] = self.permutation(epoch)[positions[mask] % self.num_items]
        return indices.tolist()

    def batch(self, t: int) -> list[int]:
        """The indices of batch `t` on this rank, with the fixed batch size."""
        return self.indices((t * self.world_size + self.rank) * self.batch_size, self.batch_size)

    def size_at(self, nimg: int) -> int:
        """The per-rank batch size of the batch starting at stream position `nimg`."""
        return self.batch_size if self.batch_size_fn is None else self.batch_size_fn(nimg)

    def __iter__(self) -> Iterator[list[int]]:
        if self.start_nimg is not None:
            nimg = int(self.start_nimg)
        else:
            nimg = int(self.start_batch) * self.world_size * self.size_at(0)
        while True:
            size = self.size_at(nimg)
            yield self.indices(nimg + self.rank * size, size)
            nimg += self.world_size * size
