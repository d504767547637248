"""The `mmrag` command line as a package: `main` builds the Typer app and registers the commands of
`collection`, `rag`, `serve`, `media` and `mm`; `output` and `common` are what they share."""
