"""The integrator's workbench: profile tests (``exportc test``), rule coverage, and the language
server. A front door like the CLI: it calls the same compiler and runtime functions."""
