"""Schedules as pure functions of the images-seen clock."""


def crossed(nimg: int, batch_nimg: int, every_nimg: int) -> bool:
    """Whether the last batch (batch_nimg images, ending at nimg) crossed a multiple of every_nimg."""
    return every_nimg > 0 and nimg // every_nimg > (nimg - batch_nimg) // every_nimg
