"""A progress bar whose total is the run length (total_kimg or total_g_steps), with losses and kimg."""
from lightning.pytorch.callbacks import TQDMProgressBar


class KimgProgressBar(TQDMProgressBar):
    """TQDM bar over the whole run, counted in the module's batches, rather than an endless epoch."""

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        self.train_progress_bar.set_description("train")  # one endless epoch: its number says nothing

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        bar = self.train_progress_bar
        total = pl_module.total_batches()
        if total is not None:
            bar.total = total
        n = pl_module.batches
        if self._should_update(n, bar.total):
            bar.n = n
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # also refreshes the bar

    def get_metrics(self, trainer, pl_module) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        # whole numbers (a resolution, a batch size) read better without Lightning's padded decimals
        metrics = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in metrics.items()}
        metrics["kimg"] = f"{pl_module.nimg / 1000:.1f}"
        return metrics
