"""Schedules as pure functions of the images-seen clock."""


def crossed(nimg: int, batch_nimg: int, every_nimg: int) -> bool:
    """Whether the last batch (batch_nimg images, ending at nimg) crossed a multiple of every_nimg."""
    return every_nimg > 0 and nimg // every_nimg > (nimg - batch_nimg) // every_nimg


def run_finished(nimg: int, g_steps: int, total_kimg: float | None, total_g_steps: int | None) -> bool:
    """Whether a run of total_kimg (images) or total_g_steps (G steps), whichever comes first, is done."""
    if total_g_steps is not None and g_steps >= total_g_steps:
        return True
    return total_kimg is not None and nimg >= total_kimg * 1000
