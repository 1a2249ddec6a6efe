"""Starting a run: the command line, config composition, building the trainer, resume and loggers."""
