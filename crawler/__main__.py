"""``python -m crawler``."""

# The guard matters under the spawn start method, where child processes
# import this module as ``__mp_main__`` and must not run the CLI again.
if __name__ == "__main__":
    from .cli.main import run

    run()
