"""Train a GAN: `python train.py [arch=dcgan] [loss=ns] [regularizer=none] [dataset=mnist] [key=value ...]`."""
import os
import sys

os.environ.setdefault("WANDB_SILENT", "true")  # wandb's banner lines; WANDB_SILENT=false brings them back

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

import gan_lightning.run.config  # noqa: E402, F401  (registers the resolvers conf/hydra/default.yaml uses)
from gan_lightning.run.cli import unknown_key, unparsable  # noqa: E402
from gan_lightning.run.folder import typed_run_dir_in_use  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from gan_lightning.run.build import run  # imported here: `--help` needs neither torch nor Lightning

    return run(cfg)


if __name__ == "__main__":
    message = (unparsable(sys.argv[1:]) or unknown_key(sys.argv[1:], check_run_dir=True)
               or typed_run_dir_in_use(sys.argv[1:]))  # another run writes there: refused before Hydra writes too
    if message is not None:
        sys.exit(f"error: {message}")
    main()
