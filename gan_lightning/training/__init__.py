"""The training loop: the LightningModule (the only D/G control flow), schedules of the images-seen clock,
the guards of the loop (divergence, preemption), checkpoint files and the callbacks."""
