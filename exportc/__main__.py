"""``python -m exportc`` runs the command line."""

from exportc.cli import main

# Guarded: importing the module (a tool that inspects the package) must not run the command line.
if __name__ == "__main__":
    main()
