"""Detection over records: the chain the worker runs, and ``larza detect`` over files."""
