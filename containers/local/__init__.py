"""Local mode: run a training image's job as N hosts on this machine."""
