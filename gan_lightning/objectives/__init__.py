"""What is optimised: losses on logits, penalties on D (and G), and the augmentation of what D sees."""
