"""The operators' console (``exportc serve``): a second front door over the same run functions
(``exportc.orchestrate``) and the same history as the CLI. Only the CLI imports this package."""
