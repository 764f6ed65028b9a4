"""``python -m exportc`` runs the command line."""

from exportc.cli import main

main()
