"""The native reader library (sscard.c) the `lib:` adapter is tested with, and its build helper."""
