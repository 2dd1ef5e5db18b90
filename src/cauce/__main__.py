"""`python -m cauce`: the `cauce` command, for an environment without the console script on PATH."""

from .cli.main import run

if __name__ == "__main__":
    run()
