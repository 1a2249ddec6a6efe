"""Train a GAN: `python train.py [arch=dcgan] [loss=ns] [regularizer=none] [dataset=mnist] [key=value ...]`."""
import hydra
from omegaconf import DictConfig

from gan_lightning.build import run


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return run(cfg)


if __name__ == "__main__":
    main()
