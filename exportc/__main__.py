"""``python -m exportc`` runs the command line."""

from exportc.cli import main

# Guarded: the Schematron worker processes are spawned, and spawning imports this module again
# (as ``__mp_main__``); they must not run a second command line.
if __name__ == "__main__":
    main()
