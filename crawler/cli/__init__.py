"""The command line: ``python -m crawler`` and its subcommands (``merge``,
``status``), config files, progress bar, summary and run log. Nothing in the
package imports this layer; it imports everything below it.
"""
